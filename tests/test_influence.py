"""Influence scores: against autograd's Hessian, against retraining, and on bad input."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn
from torch.func import functional_call, grad, hessian, vmap

import fragility as fg
from fragility.influence import last_linear_layer
from nets import FunctionalCNN, make_cnn


def reference_scores(net: nn.Module, layer: str, test: torch.Tensor, train: torch.Tensor,
                     labels: torch.Tensor, damping: float, hessian_images: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """The definition computed independently: theta = the named layer's parameters, the
    whole network run by torch.func.functional_call, the Hessian by torch.func.hessian
    (over hessian_images, else train; no label enters it), lambda = damping x its mean
    eigenvalue (trace / size), per-example gradients by vmap(grad), and a dense solve."""
    names = [f"{layer}.weight"] + ([f"{layer}.bias"] if getattr(net.get_submodule(layer), "bias") is not None else [])
    params = {name: value.detach() for name, value in net.named_parameters()}
    shapes = [params[name].shape for name in names]
    sizes = [params[name].numel() for name in names]
    theta = torch.cat([params[name].flatten() for name in names])

    def loss(flat, images, targets):
        pieces = dict(params)
        for name, shape, piece in zip(names, shapes, flat.split(sizes)):
            pieces[name] = piece.reshape(shape)
        return F.cross_entropy(functional_call(net, pieces, (images,)), targets)

    with torch.no_grad():
        predicted = net(test).argmax(dim=1)
    sample = train if hessian_images is None else hessian_images
    with torch.no_grad():
        sample_labels = net(sample).argmax(dim=1)      # any labels: H does not depend on them
    h = hessian(loss)(theta, sample, sample_labels)
    one = lambda flat, image, target: loss(flat, image[None], target[None])  # noqa: E731
    train_grads = vmap(grad(one), in_dims=(None, 0, 0))(theta, train, labels)
    test_grads = vmap(grad(one), in_dims=(None, 0, 0))(theta, test, predicted)
    damped = h + damping * torch.trace(h) / theta.numel() * torch.eye(theta.numel(), dtype=theta.dtype)
    return test_grads @ torch.linalg.solve(damped, train_grads.T)


def data(seed: int, n_train: int = 24, n_test: int = 5, classes: int = 5, size: int = 8):
    generator = torch.Generator().manual_seed(seed)
    train = torch.rand(n_train, 3, size, size, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, classes, (n_train,), generator=generator)
    test = torch.rand(n_test, 3, size, size, generator=generator, dtype=torch.float64)
    return train, labels, test


@pytest.mark.parametrize("damping", [1e-2, 1.0])
def test_scores_equal_the_autograd_hessian_computation(damping):
    net = make_cnn(seed=3)
    train, labels, test = data(0)
    scores = fg.influence_scores(net, test, train, labels, damping=damping)
    expected = reference_scores(net, "6", test, train, labels, damping)
    assert scores.shape == (5, 24) and scores.dtype == torch.float64
    assert (scores - expected).abs().max() <= 1e-9 * expected.abs().max()


def test_the_hessian_comes_from_its_own_sample_of_training_images():
    net = make_cnn(seed=3)
    train, labels, test = data(0, n_train=8)
    sample, _, _ = data(1, n_train=60)
    scores = fg.influence_scores(net, test, train, labels, damping=0.1, hessian_images=sample)
    expected = reference_scores(net, "6", test, train, labels, 0.1, hessian_images=sample)
    assert (scores - expected).abs().max() <= 1e-9 * expected.abs().max()
    own = fg.influence_scores(net, test, train, labels, damping=0.1)
    assert (scores - own).abs().max() > 1e-3 * own.abs().max()      # the sample matters


def test_the_damping_is_relative_to_the_spectrum():
    # Features 100 times larger (and a last layer 100 times smaller: the same logits) make H
    # 10^4 times larger. lambda, a share of H's mean eigenvalue, follows, so the scores stay
    # the same; an absolute lambda would not (its share of the spectrum would shrink).
    torch.manual_seed(2)
    net = nn.Sequential(nn.Flatten(), nn.Linear(192, 6), nn.ReLU(), nn.Linear(6, 5, bias=False)).double()
    scaled = copy.deepcopy(net)
    with torch.no_grad():
        scaled[1].weight.mul_(100.0)
        scaled[1].bias.mul_(100.0)
        scaled[3].weight.div_(100.0)
    train, labels, test = data(0)
    torch.testing.assert_close(scaled(test), net(test))
    torch.testing.assert_close(fg.influence_scores(scaled, test, train, labels, damping=0.1),
                               fg.influence_scores(net, test, train, labels, damping=0.1))


def test_damping_sensitivity_is_the_rank_correlation_across_a_tenfold_damping_change():
    net = make_cnn(seed=3)
    train, labels, test = data(0)
    sensitivity = fg.damping_sensitivity(net, test, train, labels, damping=0.1)
    for name, factor in (("tenth", 0.1), ("tenfold", 10.0)):
        base = reference_scores(net, "6", test, train, labels, 0.1)
        other = reference_scores(net, "6", test, train, labels, 0.1 * factor)
        expected = [spearmanr(a, b).statistic for a, b in zip(base.numpy(), other.numpy())]
        assert sensitivity[name].shape == (5,)
        torch.testing.assert_close(sensitivity[name], torch.tensor(expected, dtype=torch.float64))
    assert bool((sensitivity["tenfold"] < 1).any())    # here the damping moves some ranking


def test_functional_relus_and_a_layer_registered_first_but_applied_last():
    class Reordered(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(12, 4)           # registered before the body
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(48, 12))

        def forward(self, x):
            return self.head(F.relu(self.body(x)))

    torch.manual_seed(0)
    net = Reordered().double()
    train, labels, test = data(1, classes=4, size=4)
    assert last_linear_layer(fg.wrap_model(net), test).name == "net.head"
    expected = reference_scores(net, "head", test, train, labels, 1e-2)
    torch.testing.assert_close(fg.influence_scores(net, test, train, labels, damping=1e-2), expected,
                               rtol=1e-9, atol=1e-12)

    functional = FunctionalCNN(seed=2).double().eval()
    train, labels, test = data(2)
    expected = reference_scores(functional, "fc", test, train, labels, fg.influence.DEFAULT_DAMPING)
    torch.testing.assert_close(fg.influence_scores(functional, test, train, labels), expected,
                               rtol=1e-9, atol=1e-12)


def test_a_last_layer_without_bias():
    net = make_cnn(seed=4)
    net[6] = nn.Linear(128, 5, bias=False).double()
    train, labels, test = data(3)
    expected = reference_scores(net, "6", test, train, labels, fg.influence.DEFAULT_DAMPING)
    torch.testing.assert_close(fg.influence_scores(net, test, train, labels), expected,
                               rtol=1e-9, atol=1e-12)


def test_bundled_model_in_float32_matches_the_float64_definition():
    model = fg.load_model("bundled", device="cpu")
    train, labels = fg.training_set("bundled", n=40)
    test = torch.stack([sample.load(size=64) for sample in fg.samples("synthetic")[:3]])
    scores = fg.influence_scores(model, test, train, labels)
    reference_net = copy.deepcopy(model).double()
    expected = reference_scores(reference_net, "net.23", test.double(), train.double(), labels,
                                fg.influence.DEFAULT_DAMPING)
    assert last_linear_layer(model, test).name == "net.23"
    # float32 features against a float64 network: agreement to float32 precision
    assert (scores - expected).abs().max() <= 1e-4 * expected.abs().max()


def newton(objective, theta: torch.Tensor, tolerance: float = 1e-12) -> torch.Tensor:
    """Minimise a smooth strongly convex function of theta by Newton steps (autograd)."""
    for _ in range(50):
        gradient = grad(objective)(theta)
        if gradient.abs().max() < tolerance:
            return theta
        theta = theta - torch.linalg.solve(hessian(objective)(theta), gradient)
    raise AssertionError("Newton's method did not converge")


def test_first_order_prediction_matches_retraining_the_last_layer():
    """Koh & Liang's claim, checked on a tiny set: up-weighting training example j by eps
    and retraining the last layer to its optimum changes the test loss by -eps * score[j]."""
    strength = 0.05     # the L2 term strength/2 |theta|^2 whose Hessian is H + strength I
    torch.manual_seed(6)
    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    train, labels, test = data(4, n_train=16, n_test=3, classes=3, size=4)
    with torch.no_grad():
        features, test_features = net[:3](train), net[:3](test)

    def logits_of(theta, x):
        return x @ theta[:18].reshape(3, 6).T + theta[18:]

    def risk(theta, weights):
        losses = F.cross_entropy(logits_of(theta, features), labels, reduction="none")
        return (losses * weights).sum() / len(labels) + strength / 2 * theta.pow(2).sum()

    start = torch.cat([net[3].weight.detach().flatten(), net[3].bias.detach()])
    optimum = newton(lambda theta: risk(theta, torch.ones(16, dtype=torch.float64)), start)
    trained = copy.deepcopy(net)
    with torch.no_grad():
        trained[3].weight.copy_(optimum[:18].reshape(3, 6))
        trained[3].bias.copy_(optimum[18:])
    predicted = logits_of(optimum, test_features).argmax(dim=1)
    # damping is relative: lambda = damping x the mean eigenvalue of the unregularised H
    curvature = hessian(lambda theta: risk(theta, torch.ones(16, dtype=torch.float64)))(optimum)
    mean_eigenvalue = (torch.trace(curvature) - strength * len(optimum)) / len(optimum)
    scores = fg.influence_scores(trained, test, train, labels, damping=strength / mean_eigenvalue.item())

    def test_losses(theta):
        return F.cross_entropy(logits_of(theta, test_features), predicted, reduction="none")

    for eps in (1e-3, 1e-4):
        changes = []
        for j in range(16):
            weights = torch.ones(16, dtype=torch.float64)
            weights[j] += eps * len(labels)      # + eps * L(z_j) on the mean training loss
            retrained = newton(lambda theta: risk(theta, weights), optimum)
            changes.append((test_losses(retrained) - test_losses(optimum)) / eps)
        measured = torch.stack(changes, dim=1)                # (test, train)
        error = (measured + scores).abs().max() / scores.abs().max()
        assert error < 5 * eps, (eps, error)                  # first order: the error shrinks with eps
    assert bool(((measured < 0) == (scores > 0)).all())       # helpful = lowers the test loss


def test_scores_leave_the_model_as_it_was():
    from test_no_leftovers import assert_untouched, make_model, snapshot

    model = make_model()
    before = snapshot(model)
    train, labels, test = data(5, size=6)
    fg.influence_scores(model, test, train, labels)
    assert_untouched(model, before)


def test_models_without_a_final_linear_layer_are_refused():
    train, labels, test = data(6)
    no_linear = nn.Sequential(nn.Conv2d(3, 5, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double()
    with pytest.raises(fg.ModelError, match="no nn.Linear"):
        fg.influence_scores(no_linear, test, train, labels)
    something_after = nn.Sequential(nn.Flatten(), nn.Linear(192, 5), nn.Tanh()).double()
    with pytest.raises(fg.ModelError, match="not the output of any"):
        fg.influence_scores(something_after, test, train, labels)
    too_big = nn.Sequential(nn.Flatten(), nn.Linear(192, 100)).double()
    with pytest.raises(fg.ModelError, match="exact Hessian is supported up to"):
        fg.influence_scores(too_big, test, train, labels)
    per_pixel = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Linear(8, 5)).double()   # (N,4,8,5) logits
    with pytest.raises(fg.ModelError, match=r"returned a tensor of shape \(1, 4, 8, 5\).*expected one tensor of logits"):
        fg.influence_scores(per_pixel, test, train, labels)


@pytest.mark.parametrize("labels, error, message", [
    (torch.zeros(23, dtype=torch.long), fg.InputError, "shape \\(24,\\)"),
    (torch.full((24,), 5), fg.InputError, "lie in \\[0, 4\\]"),
    (torch.zeros(24), fg.InputError, "integer class indices"),
    (["a"] * 24, fg.InputError, "integer class indices"),
])
def test_bad_training_labels_are_named(labels, error, message):
    train, _, test = data(7)
    with pytest.raises(error, match=message):
        fg.influence_scores(make_cnn(), test, train, labels)


def test_damping_must_be_positive():
    train, labels, test = data(8)
    for damping in (0, -1.0, float("nan")):
        with pytest.raises(fg.ConfigError, match="damping"):
            fg.influence_scores(make_cnn(), test, train, labels, damping=damping)


def test_scoring_in_small_batches_gives_the_same_scores(monkeypatch):
    from fragility import influence

    net = make_cnn(seed=7)
    train, labels, test = data(9)
    whole = fg.influence_scores(net, test, train, labels)
    monkeypatch.setattr(influence, "BATCH_SIZE", 2)     # the training set and the test images
    torch.testing.assert_close(fg.influence_scores(net, test, train, labels), whole, rtol=1e-10, atol=1e-12)
