"""Cost of one attack step against its floor, measured in one run (not a test).

Floor: what one step of Algorithm 1 cannot avoid, written out by hand with the same
tensors: one double backprop through the softplus surrogate (the gradient of a top-k
dissimilarity of the gradient map) plus one forward + backward of the real network (the
label and map check of the candidate). Attack step: (attack(steps=S) - attack(steps=0)) / S,
so the set-up (the original map) is not counted. Goals: attack step / floor <= 1.1;
integrated-gradients step <= 1.2 x M x gradient step. --points-per-pass overrides the
attack's budget of images per pass (fragility.attacks.setting.POINTS_PER_PASS), to choose it.

    python benchmarks/bench_attack_step.py [--device cpu|cuda] [--repeats 3] [--points-per-pass P]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
import torchvision

import fragility as fg
from fragility.attacks import attack, setting
from fragility.smooth import softplus_relu


def small_model(device):
    """The bundled model if its checkpoint is there, else the same architecture at random."""
    try:
        return fg.load_model("bundled", device=device), "bundled 64px"
    except fg.FragilityError:
        from fragility.models.bundled import INPUT_SIZE, MEAN, STD, build_net
        net = build_net().to(device).eval()
        return fg.wrap_model(net, mean=MEAN, std=STD, input_size=INPUT_SIZE), "bundled arch (random) 64px"


def squeezenet(device):
    net = torchvision.models.squeezenet1_1(weights=None).to(device).eval()
    return fg.wrap_model(net, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], input_size=224), \
        "squeezenet1_1 (random) 224px"


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def floor_step(model, images, target, top_k, beta, alpha):
    """One double backprop through the surrogate + one forward/backward of the real net."""
    x = images.detach().requires_grad_(True)
    with softplus_relu(beta):
        logits = model(x)
        grad, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x, create_graph=True)
        maps = grad.abs().sum(dim=1)
        maps = maps / maps.sum(dim=(1, 2), keepdim=True)
        dissimilarity = -(maps * top_k).sum()
    step, = torch.autograd.grad(dissimilarity, x)
    candidate = (images + alpha * step.sign()).clamp(0, 1).requires_grad_(True)
    logits = model(candidate)
    check, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), candidate)
    return check


def timed_once(fn, device):
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def step_costs(model, images, target, top_k, steps, device, repeats, **kwargs):
    """(floor per step, attack per step): best of `repeats` interleaved runs.

    Other load on the machine only ever adds time, so the minimum is the estimate, and
    interleaving exposes the floor and the attack to the same conditions.
    """
    floor_loop = lambda: [floor_step(model, images, target, top_k, 10.0, 1 / 255)  # noqa: E731
                          for _ in range(steps)]
    run = lambda n: attack(model, images, steps=n, k=100, **kwargs)  # noqa: E731
    floor_loop(), run(1)   # warm-up
    floors, full, setup = [], [], []
    for _ in range(repeats):
        floors.append(timed_once(floor_loop, device) / steps)
        full.append(timed_once(lambda: run(steps), device))
        setup.append(timed_once(lambda: run(0), device))
    return min(floors), (min(full) - min(setup)) / steps


def measure(model, label, batch, steps, device, repeats, integrated_steps=()):
    size = model.input_size
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, size, size, generator=generator).to(device)
    with torch.no_grad():
        target = model(images).argmax(dim=1)
    flat = torch.rand(batch, size * size, generator=generator).to(device)
    top_k = torch.zeros_like(flat).scatter_(1, flat.topk(100, dim=1).indices, 1.0).reshape(batch, size, size)
    floor, step = step_costs(model, images, target, top_k, steps, device, repeats)
    print(f"{label:30s} {device.type:4s} batch {batch:2d}: floor {floor * 1e3:8.1f} ms  "
          f"attack step {step * 1e3:8.1f} ms  ratio {step / floor:5.2f}  (goal <= 1.1)", flush=True)
    for m in integrated_steps:
        ig_steps = max(1, steps // 2) if m <= 10 else 1
        _, ig = step_costs(model, images, target, top_k, ig_steps, device, repeats,
                           method="integrated-gradients", method_options={"steps": m})
        print(f"{'':30s} {'':4s} {'':8s}  integrated gradients (M={m}) step {ig * 1e3:8.1f} ms = "
              f"{ig / (m * step):5.2f} x M x gradient step  (goal <= 1.2)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", action="append", help="cpu and/or cuda (default: cpu, plus cuda if any)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median)")
    parser.add_argument("--points-per-pass", type=int, help="the attack's budget of images per pass")
    args = parser.parse_args()
    if args.points_per_pass:
        setting.POINTS_PER_PASS = args.points_per_pass
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{setting.POINTS_PER_PASS or 'the device budget of'} points per pass")
    for name in devices:
        device = torch.device(name)
        gpu = device.type == "cuda"
        model, label = small_model(device)
        # M=8 at batch 1 and 16; the paper's M=100 at batch 1 and 4.
        for batch, integrated in ((1, (8, 100)), (4, (100,)), (16, (8,))):
            measure(model, label, batch, steps=20 if gpu else (8 if batch == 1 else 4), device=device,
                    repeats=args.repeats, integrated_steps=integrated)
        model, label = squeezenet(device)
        for batch in (1, 16):
            measure(model, label, batch, steps=20 if gpu else (4 if batch == 1 else 2), device=device,
                    repeats=args.repeats)
        if gpu:
            images = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)).to(device)
            attack(model, images, steps=5)
            synchronize(device)
            start = time.perf_counter()
            attack(model, images, steps=300)
            synchronize(device)
            print(f"squeezenet1_1 224px, 300 steps, gradient top-k on {torch.cuda.get_device_name(device)}: "
                  f"{time.perf_counter() - start:.2f} s (goal <= 3 s)")


if __name__ == "__main__":
    main()
