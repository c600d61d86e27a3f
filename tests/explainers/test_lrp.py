"""LRP against relevance computed by hand (dense matrices, float64), conservation, the
attack's graph against finite differences, and the caller's model left alone."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from zennit.torchvision import ResNetCanonizer

import fragility as fg
from captum.attr import LRP as CaptumLRP
from captum.attr._utils.lrp_rules import EpsilonRule
from fragility.errors import ModelError
from fragility.explainers import attribute, get_method, methods, saliency_map
from fragility.explainers.lrp import twin
from fragility.models.model import as_model
from nets import make_cnn

from ._reference import captum, close

LRP = [name for name in methods() if name.startswith("lrp-")]
MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def test_the_lrp_methods_are_registered():
    assert {"lrp-epsilon-plus-flat", "lrp-alpha-beta"} <= set(LRP)


def tiny_net(bias: bool = True) -> nn.Sequential:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=bias), nn.ReLU(),
        nn.Conv2d(4, 5, 3, stride=2, padding=1, bias=bias), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(20, 3, bias=bias),
    ).double().eval()


def x6(n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))


# --- LRP by hand: each layer a dense matrix M (outputs x inputs) and a bias b ---------------

def dense(layer, shape) -> torch.Tensor:
    """The matrix of a linear map without its bias, from its values on the basis vectors."""
    size = int(torch.tensor(shape).prod())
    basis = torch.eye(size, dtype=torch.float64).reshape(size, *shape)
    return layer(basis).reshape(size, -1).T


def stab(z):
    return z + 1e-6 * (z.sign() + (z == 0).to(z))


def pos(t):
    return t.clamp(min=0)


def neg(t):
    return t.clamp(max=0)


def epsilon_rule(a, M, b, R):
    return a * (M.T @ (R / stab(M @ a + b)))


def zplus_rule(a, M, b, R):
    s = R / stab(pos(M) @ pos(a) + neg(M) @ neg(a) + pos(b))
    return pos(a) * (pos(M).T @ s) + neg(a) * (neg(M).T @ s)


def alpha2_beta1_rule(a, M, b, R):
    s_pos = R / stab(pos(M) @ pos(a) + neg(M) @ neg(a) + pos(b))
    s_neg = R / stab(neg(M) @ pos(a) + pos(M) @ neg(a) + neg(b))
    return (2 * (pos(a) * (pos(M).T @ s_pos) + neg(a) * (neg(M).T @ s_pos))
            - (pos(a) * (neg(M).T @ s_neg) + neg(a) * (pos(M).T @ s_neg)))


def gamma_rule(a, M, b, R, gamma=0.25):
    # generalised gamma: favour contributions of the output's own sign
    up, down = M + gamma * pos(M), M + gamma * neg(M)
    z = M @ a + b
    s_pos = (z > 0) * R / stab(up @ pos(a) + down @ neg(a) + b + gamma * pos(b))
    s_neg = (z < 0) * R / stab(down @ pos(a) + up @ neg(a) + b + gamma * neg(b))
    return (pos(a) * (up.T @ s_pos) + neg(a) * (down.T @ s_pos)
            + pos(a) * (down.T @ s_neg) + neg(a) * (up.T @ s_neg))


def flat_rule(ones_matrix, R):
    return ones_matrix.T @ (R / stab(ones_matrix.sum(dim=1)))


def zbox_rule(x, M, low, high, R):
    s = R / stab(M @ x - pos(M) @ low - neg(M) @ high)
    return x * (M.T @ s) - low * (pos(M).T @ s) - high * (neg(M).T @ s)


def by_hand(net, x, mean, std, first, middle):
    """Relevance of each normalised input value for the predicted logit, image by image."""
    conv1, conv2, linear = net[0], net[2], net[6]
    # the wrapper keeps mean and std in float32
    mean_t = torch.tensor(mean, dtype=torch.float32).double().view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).double().view(3, 1, 1)
    M1 = dense(lambda t: F.conv2d(t, conv1.weight, None, 1, 1), (3, 6, 6))
    M1_ones = dense(lambda t: F.conv2d(t, torch.ones_like(conv1.weight), None, 1, 1), (3, 6, 6))
    M2 = dense(lambda t: F.conv2d(t, conv2.weight, None, 2, 1), (4, 6, 6))
    P = dense(lambda t: F.adaptive_avg_pool2d(t, 2), (5, 3, 3))
    b1 = conv1.bias.detach().repeat_interleave(36)
    b2 = conv2.bias.detach().repeat_interleave(9)
    W, b = linear.weight.detach(), linear.bias.detach()
    low = ((0 - mean_t) / std_t).expand(3, 6, 6).reshape(-1)
    high = ((1 - mean_t) / std_t).expand(3, 6, 6).reshape(-1)
    result = []
    for image in x:
        a0 = ((image - mean_t) / std_t).reshape(-1)
        a1 = (M1 @ a0 + b1).relu()
        a2 = (M2 @ a1 + b2).relu()
        a3 = P @ a2
        logits = W @ a3 + b
        R = torch.zeros_like(logits)
        c = logits.argmax()
        R[c] = logits[c]
        R = epsilon_rule(a3, W, b, R)
        R = epsilon_rule(a2, P, torch.zeros(P.shape[0], dtype=P.dtype), R)   # average pool
        R = middle(a1, M2, b2, R)
        if first == "flat":
            R = flat_rule(M1_ones, R)
        elif first == "zbox":
            R = zbox_rule(a0, M1, low, high, R)
        else:
            R = first(a0, M1, b1, R)
        result.append(R.reshape(3, 6, 6))
    return torch.stack(result)


RULES = {"lrp-epsilon-plus-flat": ("flat", zplus_rule),
         "lrp-alpha-beta": (alpha2_beta1_rule, alpha2_beta1_rule),
         "lrp-epsilon-gamma-box": ("zbox", gamma_rule)}


@pytest.mark.parametrize("name", LRP)
def test_equals_relevance_by_hand_on_a_normalising_wrapper(name):
    net, x = tiny_net(), x6()
    model = fg.wrap_model(net, mean=MEAN, std=STD)
    expected = by_hand(net, x, MEAN, STD, *RULES[name])
    ours = attribute(model, x, name).attributions
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", LRP)
def test_relevance_sums_to_the_logit_without_biases(name):
    # Every rule here conserves relevance when no bias absorbs a share (up to the 1e-6
    # stabilisers; with this network's biases the sums miss the logit by 59-79%).
    net, x = tiny_net(bias=False), x6(3)
    result = attribute(fg.wrap_model(net, mean=MEAN, std=STD), x, name)
    logit = result.logits.max(dim=1).values
    torch.testing.assert_close(result.attributions.sum(dim=(1, 2, 3)), logit, rtol=1e-4, atol=0)


@pytest.mark.parametrize("name", LRP)
def test_create_graph_differentiates_the_relevance_itself(name):
    """d/dx of <R(x), v> from the graph equals central finite differences of R."""
    model = fg.wrap_model(tiny_net(), mean=MEAN, std=STD)
    spec = get_method(name)
    x = x6(1).requires_grad_(True)
    v = torch.randn(1, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    relevance = spec.fn(model, x, None, create_graph=True).attributions
    (grad,) = torch.autograd.grad((relevance * v).sum(), x)
    h = 1e-6
    for index in [(0, 0, 1, 2), (0, 1, 3, 3), (0, 2, 5, 0), (0, 1, 0, 4)]:
        step = torch.zeros_like(x)
        step[index] = h
        plus = (spec.fn(model, x.detach() + step, None).attributions * v).sum()
        minus = (spec.fn(model, x.detach() - step, None).attributions * v).sum()
        torch.testing.assert_close(grad[index], (plus - minus) / (2 * h), rtol=1e-4, atol=1e-9)


class MLP(nn.Module):
    """Dense layers only: both composites below then use the epsilon rule in every layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(8)
        self.fc1, self.relu1 = nn.Linear(3 * 6 * 6, 12), nn.ReLU()
        self.fc2, self.relu2 = nn.Linear(12, 8), nn.ReLU()
        self.fc3 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc3(self.relu2(self.fc2(self.relu1(self.fc1(x.flatten(1))))))


@pytest.mark.parametrize("name", ["lrp-alpha-beta", "lrp-epsilon-gamma-box"])
def test_equals_captum_epsilon_lrp_on_dense_layers(name):
    # (their convolution and first-convolution rules, which captum lacks, are checked by hand above)
    net, x = MLP().double().eval(), x6(3)
    model = fg.wrap_model(net, mean=MEAN, std=STD)
    normalised = (x - model.mean.double()) / model.std.double()
    for layer in (net.fc1, net.fc2, net.fc3):
        layer.rule = EpsilonRule(epsilon=1e-6)    # zennit's epsilon, as in our rules
    expected = captum(CaptumLRP(net), normalised, target=net(normalised).argmax(1))
    close(attribute(model, x, name).attributions, expected, rtol=1e-9)


def with_batch_norm() -> nn.Sequential:
    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
                        nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 4)).double()
    for bn in (net[1], net[4]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(-1.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def folded(net: nn.Sequential) -> nn.Sequential:
    """The same network with each batch norm folded into the convolution before it."""
    layers = []
    for conv, bn, relu in ((net[0], net[1], net[2]), (net[3], net[4], net[5])):
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.bias)
        merged = nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1).double()
        merged.weight.data = conv.weight.detach() * scale.detach().view(-1, 1, 1, 1)
        merged.bias.data = ((bias - bn.running_mean) * scale + bn.bias).detach()
        layers += [merged, nn.ReLU()]
    return nn.Sequential(*layers, *net[6:]).eval()


@pytest.mark.parametrize("name", LRP)
def test_batch_norm_is_merged_into_its_convolution(name, images):
    net = with_batch_norm()
    before = {key: value.clone() for key, value in net.state_dict().items()}
    ours = attribute(net, images, name).attributions
    torch.testing.assert_close(ours, attribute(folded(net), images, name).attributions, rtol=1e-8, atol=1e-12)
    assert all(torch.equal(value, before[key]) for key, value in net.state_dict().items())
    assert net[0].bias is None


@pytest.mark.parametrize("batch_norm", [nn.BatchNorm2d(6, affine=False),
                                        nn.BatchNorm2d(6, track_running_stats=False)],
                         ids=["no affine parameters", "no running statistics"])
def test_a_batch_norm_that_cannot_be_merged_passes_relevance_on(batch_norm, images):
    net = nn.Sequential(nn.Conv2d(3, 6, 3), batch_norm, nn.ReLU(), nn.Flatten(), nn.Linear(6 * 14 * 14, 4))
    maps = fg.explain(net.double().eval(), images, "lrp-epsilon-plus-flat")
    assert torch.isfinite(maps).all() and maps.std() > 0


def test_the_canonizers_change_only_the_twin():
    """zennit merges batch norm by replacing .data: on the twin that never reaches the model."""
    net = with_batch_norm()
    before = {key: value.clone() for key, value in net.state_dict().items()}
    copy = twin(net)
    assert copy[0].weight is not net[0].weight
    assert copy[0].weight.data_ptr() == net[0].weight.data_ptr()   # no weights copied
    handles = ResNetCanonizer().apply(copy)
    assert copy[0].bias is not None and net[0].bias is None
    assert not torch.equal(copy[0].weight, net[0].weight)
    assert all(torch.equal(value, before[key]) for key, value in net.state_dict().items())
    for handle in handles:
        handle.remove()


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_1"])
def test_torchvision_networks(name):
    torch.manual_seed(0)
    net = torchvision.models.get_model(name, weights=None).double().eval()
    model = fg.wrap_model(net, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    block_forward = [vars(module).get("forward") for module in net.modules()]
    for method in ("lrp-epsilon-plus-flat", "lrp-alpha-beta"):
        maps = fg.explain(model, x, method)
        assert torch.isfinite(maps).all() and maps.std() > 0
    assert [vars(module).get("forward") for module in net.modules()] == block_forward
    spec = get_method("lrp-epsilon-plus-flat")
    xx = x.clone().requires_grad_(True)
    result = spec.differentiable(model, xx, None, beta=10.0)
    (grad,) = torch.autograd.grad(saliency_map(result.attributions).square().sum(), xx)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_resnet_additions_share_relevance_between_branches():
    """With the residual sums as modules (the ResNet canonizer) relevance is conserved
    through a bias-free ResNet; passed as gradients, both branches would get it all."""
    torch.manual_seed(1)
    net = torchvision.models.resnet18(weights=None, num_classes=4).double().eval()
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.zero_()
            module.bias.data.zero_()
    net.fc.bias.data.zero_()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    result = attribute(net, x, "lrp-epsilon-plus-flat")
    logit = result.logits.max(dim=1).values
    torch.testing.assert_close(result.attributions.sum(dim=(1, 2, 3)), logit, rtol=1e-4, atol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_torchscript_models_get_a_clear_error(images):
    scripted = torch.jit.script(make_cnn())
    with pytest.raises(ModelError, match="TorchScript"):
        fg.explain(scripted, images, "lrp-epsilon-plus-flat")


class FunctionalConvolution(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 3, 16, 16, dtype=torch.float64))

    def forward(self, x):
        return F.conv2d(x, self.weight).flatten(1)


def test_a_network_without_layers_to_put_rules_on_is_refused(images):
    with pytest.raises(ModelError, match=r"nn.Conv\*/nn.Linear"):
        fg.explain(FunctionalConvolution(), images, "lrp-alpha-beta")


def test_the_caller_model_is_never_hooked_during_the_call(images):
    """A forward hook on the caller's model never fires: only the twin runs."""
    net = make_cnn()
    calls = []
    handle = net[0].register_forward_hook(lambda module, args, output: calls.append(module))
    try:
        fg.explain(net, images, "lrp-epsilon-plus-flat")
        assert len(calls) == 1 and calls[0] is not net[0]   # the twin's copy of the hook ran
        assert list(net[0]._forward_hooks) == [handle.id]
    finally:
        handle.remove()
