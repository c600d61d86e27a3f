import time

import torch

import fragility
from fragility.samples import samples
from fragility.models.bundled import BUNDLED_PATH, INPUT_SIZE, build_net
from fragility.synthetic import CLASS_NAMES, make_dataset
from fragility.training import EVAL_SEED


def test_bundled_loads_offline_quickly_with_its_metadata():
    start = time.perf_counter()
    model = fragility.load_model("bundled", device="cpu")
    assert time.perf_counter() - start < 2.0  # the requirement, not a benchmark
    assert model.labels == list(CLASS_NAMES) and model.input_size == INPUT_SIZE == 64
    assert model.domain == "synthetic" and model.name == "bundled" and not model.training
    assert model.normalize
    assert BUNDLED_PATH.stat().st_size <= 5 * 1024 * 1024


def test_bundled_architecture_is_relu_without_max_pool():
    net = build_net()
    kinds = {type(module) for module in net.modules()}
    assert torch.nn.ReLU in kinds
    assert not kinds & {torch.nn.MaxPool2d, torch.nn.AdaptiveMaxPool2d}


def test_bundled_accuracy_on_fresh_images():
    model = fragility.load_model("bundled", device="cpu")
    images, labels, _ = make_dataset(500, seed=EVAL_SEED + 1)
    with torch.no_grad():
        predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(250)])
    assert (predictions == labels).float().mean() >= 0.95


def test_bundled_classifies_the_shipped_samples():
    model = fragility.load_model("bundled", device="cpu")
    shapes = samples("synthetic")
    batch = torch.stack([sample.load(64) for sample in shapes])
    with torch.no_grad():
        predicted = [model.label_name(i) for i in model(batch).argmax(1).tolist()]
    correct = sum(p == sample.label for p, sample in zip(predicted, shapes))
    assert correct >= len(shapes) - 1
