"""The bundled model's fixed reference: the mean image of its own training data."""

import torch

import fragility as fg
from fragility import data
from fragility.explainers.baselines import baseline
from fragility.models.bundled import DATASET_MEAN_KEY


def test_the_shipped_mean_is_the_mean_of_the_training_images():
    model = fg.load_model("bundled", device="cpu")
    stored = model.dataset_mean
    assert stored.shape == (3, 64, 64)
    # The first 2048 training images (two blocks) give nearly the same mean image: the
    # stored one is the mean over all 76,800, the sampling error of 2048 is ~0.3/sqrt(2048).
    images, _ = fg.training_set("bundled", n=2048)
    assert (images.mean(dim=0) - stored).abs().max() < 0.05
    torch.testing.assert_close(data.dataset_mean(steps=16), images.mean(dim=0), atol=1e-6, rtol=0)


def test_integrated_gradients_and_deeplift_use_it_and_it_does_not_move():
    model = fg.load_model("bundled", device="cpu")
    image = fg.samples("synthetic")[0].load(size=64)[None]
    reference = baseline(image, "dataset-mean", model)
    torch.testing.assert_close(reference[0], model.dataset_mean)
    torch.testing.assert_close(baseline(image.flip(-1) * 0.3, "dataset-mean", model), reference)
    for method in ("integrated-gradients", "deeplift"):
        assert fg.get_method(method).options["baseline"] == "dataset-mean"


def test_other_weights_for_the_architecture_keep_the_data_mean(tmp_path):
    from safetensors.torch import load_file, save_file

    from fragility.models.bundled import BUNDLED_PATH

    state = load_file(str(BUNDLED_PATH))
    assert DATASET_MEAN_KEY in state
    weights_only = {key: value for key, value in state.items() if key != DATASET_MEAN_KEY}
    save_file(weights_only, str(tmp_path / "weights.safetensors"))
    model = fg.load_model("bundled", weights=tmp_path / "weights.safetensors", device="cpu")
    torch.testing.assert_close(model.dataset_mean, state[DATASET_MEAN_KEY])


def test_torchvision_models_use_their_normalisation_means():
    from fragility.models.zoo import architecture, wrap_zoo

    net, weights = architecture("squeezenet1_1")
    model = wrap_zoo("squeezenet1_1", net, weights)
    expected = torch.tensor(weights.transforms().mean).reshape(3, 1, 1)
    torch.testing.assert_close(model.dataset_mean, expected)
