"""PGD / FGSM label attack: cross-entropy ascent on the real network, last iterate returned."""

import torch
import torch.nn.functional as F

from fragility.attacks import attack


def test_fgsm_is_one_signed_step_of_size_eps(images, cnn):
    net = cnn
    eps = 8 / 255
    x = images.clone().requires_grad_(True)
    logits = net(x)
    loss = F.cross_entropy(logits, logits.argmax(dim=1), reduction="sum")
    grad, = torch.autograd.grad(loss, x)
    expected = (images + eps * grad.sign()).clamp(0, 1)
    result = attack(net, images, attack="pgd", epsilon=eps, steps=1, step_size=eps, k=20)
    assert torch.equal(result.perturbed, expected)
    assert result.surrogate.startswith("none")


def test_pgd_raises_the_loss_and_returns_the_last_iterate(images, cnn):
    net = cnn
    rows = []
    result = attack(net, images, attack="pgd", epsilon=0.5, steps=15, step_size=0.05, k=20,
                    callback=lambda step, row: rows.append(row))
    losses = [row["current_dissimilarity"] for row in result.history]
    assert all(a == b for a, b in zip(losses[-1], result.metrics["dissimilarity"].tolist()))
    assert all(last > first for first, last in zip(losses[0], losses[-1]))
    for row in result.history:   # no best-iterate rule: the best is always the current one
        assert row["dissimilarity"] == row["current_dissimilarity"]
    assert not result.labels_kept.all()   # a large enough budget changes some labels
    assert torch.equal(result.labels_kept, result.perturbed_labels == result.labels)
    assert torch.equal(result.perturbed_labels, net(result.perturbed).argmax(dim=1))
