"""Points per attack pass sized to the device: a probed cost per point, a byte budget on the CPU."""

import pytest
import torch

from fragility.attacks import attack, budget, setting
from fragility.explainers import get_method, saliency_map
from fragility.explainers._core import gradient


def test_whole_points_within_the_bytes_at_least_one_at_most_the_cap():
    assert budget.budget(1000, 300) == 3
    assert budget.budget(100, 300) == 1
    assert budget.budget(1e15, 1) == budget.MAX_POINTS


def saved_bytes(net, method, options, images):
    """Bytes autograd keeps for one attack step's double backprop on `images`, counted anew."""
    spec = get_method(method)
    storages = {}

    def keep(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    x = images.detach().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        explanation = spec.differentiable(net, x, None, 10.0, **{**spec.options, **options})
        gradient(saliency_map(explanation.attributions).square().sum(), x)
    return sum(storages.values())


@pytest.mark.parametrize("method, options", [("gradient", {}), ("integrated-gradients", {"steps": 4})])
def test_the_cpu_cost_is_per_point_and_grows_with_the_batch(method, options, cnn, images):
    spec = get_method(method)
    cost = budget.point_cost(cnn, spec, {**spec.options, **options}, images)
    points = spec.points({**spec.options, **options})
    assert cost == pytest.approx(saved_bytes(cnn, method, options, images[:1]) / points, rel=0.01)
    # a batch of 3 keeps about 3 times as much: the cost is per point, not per pass
    assert saved_bytes(cnn, method, options, images) == pytest.approx(3 * cost * points, rel=0.35)


def test_the_probe_runs_once_per_model_method_and_size(cnn, images):
    calls = []
    hook = cnn.register_forward_hook(lambda *args: calls.append(1))
    try:
        spec = get_method("gradient")
        budget.point_cost(cnn, spec, spec.options, images)
        probed = len(calls)
        budget.point_cost(cnn, spec, spec.options, images)
        assert probed > 0 and len(calls) == probed
        budget.point_cost(cnn, spec, spec.options, images[:, :, :8, :8])   # another size: probed again
        assert len(calls) > probed
    finally:
        hook.remove()


def test_groups_follow_the_cpu_byte_budget(cnn, images, monkeypatch):
    monkeypatch.setattr(setting, "POINTS_PER_PASS", None)
    spec = get_method("integrated-gradients")
    options = {**spec.options, "steps": 4}
    cost = budget.point_cost(cnn, spec, options, images)
    # room for two images of 4 points, not three: a budget of exactly two images' cost sat on
    # the boundary, where a few bytes more in the attack's own probe left one image per group
    monkeypatch.setattr(budget, "CPU_BYTES", cost * 4 * 2 * 1.25)
    seen = []
    hook = cnn.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[0]))
    try:
        grouped = attack(cnn, images, method="integrated-gradients", steps=2, k=20,
                         method_options={"steps": 4})
    finally:
        hook.remove()
    assert set(seen) == {8, 4}   # 2 images x 4 points, then the last image
    monkeypatch.setattr(budget, "CPU_BYTES", 1e12)
    whole = attack(cnn, images, method="integrated-gradients", steps=2, k=20, method_options={"steps": 4})
    torch.testing.assert_close(grouped.perturbed, whole.perturbed, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_budget_comes_from_the_free_memory(cnn, images):
    net, x = cnn.cuda(), images.cuda()
    spec = get_method("gradient")
    cost = budget.point_cost(net, spec, spec.options, x)
    free, _ = torch.cuda.mem_get_info()
    assert budget.points_per_pass(net, spec, spec.options, x) == budget.budget(free * budget.CUDA_SHARE, cost)
    assert cost > 0
