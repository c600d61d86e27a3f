"""The shared sidebar: model, image, method and attack, read into one `Choices` value."""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
import torch

import fragility as fg

from . import state, uploads
from .failures import escape

PAPER = ("Ghorbani, Abid & Zou, *Interpretation of Neural Networks is Fragile*, "
         "AAAI 2019 ([arXiv:1710.10547](https://arxiv.org/abs/1710.10547))")
BASELINES = ["black", "mean", "blur"]          # integrated-gradients baselines
UPLOAD = "Upload your own image"


@dataclass
class Choices:
    model: fg.Model | None = None
    model_key: str = ""
    model_code: str = 'fg.load_model("bundled")'   # how the snippet loads the model
    image: torch.Tensor | None = None               # (3,H,W) in [0,1]
    image_key: str = ""
    image_code: str = ""
    sample: object | None = None                    # fg.Sample, None for an upload
    mask: torch.Tensor | None = None                # object mask (H,W) of a generated sample
    method: str = "gradient"
    method_options: dict = field(default_factory=dict)
    attack: str = "top-k"
    epsilon255: float = 8.0
    steps: int = 100
    step_size255: float = 1.0
    k: int = 100
    beta: float = 10.0
    seed: int = 0
    region: torch.Tensor | None = None
    region_code: str = ""
    target_map: torch.Tensor | None = None
    target_code: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.model is not None and self.image is not None and not self.errors

    def attack_arguments(self) -> dict:
        """Keyword arguments of fg.attack, apart from model, images and callback."""
        return dict(method=self.method, attack=self.attack, epsilon=self.epsilon255 / 255,
                    steps=self.steps, step_size=self.step_size255 / 255, k=self.k,
                    beta=self.beta, seed=self.seed, method_options=dict(self.method_options),
                    region=self.region, target_map=self.target_map, mask=self.mask)

    def key_parts(self) -> dict:
        arguments = self.attack_arguments()
        for name in ("region", "target_map", "mask"):
            arguments[name] = state.digest(arguments[name])
        return {"model": self.model_key, "image": self.image_key, **arguments}


def sidebar() -> Choices:
    """Draw the sidebar and return what it says; errors are shown in place, not raised."""
    choices = Choices()
    with st.sidebar:
        _model(choices)
        if choices.model is not None:
            st.caption(f"Device: **{state.device_name(choices.model)}**")
            _image(choices)
        _method(choices)
        _attack(choices)
    return choices


def _model(choices: Choices) -> None:
    """The model, with optional labels; a problem goes to `choices.errors` (shown once, on
    the page) and leaves no model."""
    st.header("Model")
    source = st.radio("Model source", ["Bundled (offline)", "Torchvision zoo", "Your own file"],
                      key="model_source", label_visibility="collapsed")
    try:
        if source == "Bundled (offline)":
            choices.model, choices.model_key = state.named_model("bundled"), "bundled"
        elif source == "Torchvision zoo":
            zoo = [name for name in model_names() if name != "bundled"]
            name = st.selectbox("Architecture", zoo, key="zoo_model")
            choices.model_key, choices.model_code = name, f'fg.load_model("{name}")'
            choices.model = state.named_model(name)
        else:
            _own_model(choices)
            return
        _relabel(choices, _labels_uploader("labels_file"))
    except fg.FragilityError as error:
        choices.model = None
        hint = ("\n\nThe bundled model works offline: choose **Bundled (offline)** above."
                if source == "Torchvision zoo" else "")
        choices.errors.append(escape(str(error)) + hint)


def _labels_uploader(key: str):
    return st.file_uploader("Labels (optional .txt or .json)", type=list(uploads.LABEL_TYPES),
                            key=key, help="One class name per line (.txt), or a JSON list of "
                            "names or mapping from class index to name; at most "
                            f"{uploads.limit_text('labels')}.")


def _relabel(choices: Choices, upload) -> None:
    """The chosen model with the class names of an uploaded labels file, if any."""
    if upload is None:
        return
    data = upload.getvalue()             # load_labels checks the size and names the limit
    classes = choices.model.classes or len(choices.model.labels or []) or None
    labels = fg.load_labels(data, name=upload.name, classes=classes)
    labels_key = state.digest(data)
    choices.model = state.relabelled(choices.model_key, labels_key, choices.model, labels)
    choices.model_key += f"+labels:{labels_key}"


def _own_model(choices: Choices) -> None:
    kind = st.radio("File type", ["State dict", "TorchScript"], horizontal=True, key="own_kind",
                    help="A state dict holds only weights, for one of the listed "
                         "architectures; a TorchScript file holds a whole model, code included.")
    architecture, input_size = None, None
    if kind == "State dict":
        architecture = st.selectbox("Architecture", [n for n in model_names() if n != "bundled"]
                                    + ["bundled"], key="own_architecture")
    elif not uploads.torchscript_allowed():
        choices.errors.append(uploads.torchscript_off_message())
        return
    else:
        input_size = int(st.number_input("Input size (pixels)", 8, 1024, state.IMAGE_SIZE,
                                         key="own_input_size",
                                         help="The side of the square images your model takes."))
    upload = st.file_uploader(
        "Model file", type=list(uploads.MODEL_TYPES), key="own_model_file",
        help=f"{uploads.type_list(uploads.MODEL_TYPES)}; at most {uploads.limit_text('model')}.")
    labels_file = _labels_uploader("own_labels_file")
    if upload is None:
        choices.errors.append("Upload a model file in the sidebar (or choose the bundled model).")
        return
    data = uploads.read(upload, "model")
    digest = state.digest(data)
    choices.model = state.uploaded_model(digest, upload.name, architecture, input_size, data)
    choices.model_key = f"upload:{digest}:{architecture}:{input_size}"
    choices.model_code = (f"fg.load_model({upload.name!r})" if architecture is None
                          else f"fg.load_model({architecture!r}, weights={upload.name!r})")
    _relabel(choices, labels_file)


def model_names() -> list[str]:
    return fg.models()


def _samples_for(model: fg.Model) -> list:
    kind = {"synthetic": "synthetic", "imagenet": "photo"}.get(model.domain)
    return fg.samples(kind)


def _image(choices: Choices) -> None:
    st.header("Image")
    model = choices.model
    size = model.input_size or state.IMAGE_SIZE
    try:
        gallery = _samples_for(model)
    except fg.FragilityError as error:
        choices.errors.append(escape(str(error)))
        gallery = []
    names = [sample.name for sample in gallery] + [UPLOAD]
    titles = {sample.name: sample.title for sample in gallery}
    if gallery:
        st.image([state.sample_image(sample.name, size).permute(1, 2, 0).numpy()
                  for sample in gallery[:12]], width=44)
    if st.session_state.get("image_choice") not in names:
        st.session_state.pop("image_choice", None)
    name = st.selectbox("Sample", names, key="image_choice",
                        format_func=lambda n: titles.get(n, n))
    try:
        if name == UPLOAD:
            upload = st.file_uploader(
                "Image file", type=list(uploads.IMAGE_TYPES), key="image_file",
                help=f"{uploads.IMAGE_FORMATS}; at most {uploads.limit_text('image')}; "
                     f"shrunk to {size}x{size} pixels for the model.")
            if upload is None:
                st.session_state.pop("uploaded_image", None)
                choices.errors.append("Upload an image in the sidebar, or pick a sample.")
                return
            choices.image = state.uploaded_image(uploads.read(upload, "image"), upload.name, size)
            choices.image_code = f"fg.load_image({upload.name!r}, size=model.input_size)"
        else:
            st.session_state.pop("uploaded_image", None)
            sample = next(s for s in gallery if s.name == name)
            choices.sample = sample
            choices.image = state.sample_image(name, size)
            choices.mask = sample.load_mask(size=choices.image.shape[-1])
            choices.image_code = (f'next(s for s in fg.samples() if s.name == "{name}")'
                                  ".load(size=model.input_size)")
        choices.image_key = state.digest(choices.image)
    except fg.FragilityError as error:
        choices.image = None
        choices.errors.append(escape(str(error)))


def _method(choices: Choices) -> None:
    st.header("Interpretation method")
    names = fg.methods()
    method = st.selectbox("Method", names, key="method",
                          format_func=lambda n: fg.get_method(n).title)
    spec = fg.get_method(method)
    st.caption(spec.description)
    choices.method = method
    choices.method_options = {name: _option(method, name, default)
                              for name, default in spec.options.items()}


def _option(method: str, name: str, default):
    label = name.replace("_", " ").capitalize()
    key = f"option:{method}:{name}"
    if name == "baseline":
        return st.selectbox(label, BASELINES, index=BASELINES.index(default)
                            if default in BASELINES else 0, key=key)
    if isinstance(default, bool):
        return st.checkbox(label, value=default, key=key)
    if isinstance(default, int):
        return int(st.number_input(label, min_value=0 if name == "seed" else 1,
                                   value=default, step=1, key=key))
    if isinstance(default, float):
        return float(st.number_input(label, min_value=0.0, value=default, step=default / 4 or 0.05,
                                     format="%.3f", key=key))
    text = st.text_input(label, value="" if default is None else str(default), key=key,
                         help="Leave empty for the default.")
    return text or default


def _attack(choices: Choices) -> None:
    st.header("Attack")
    names = fg.attacks()
    attack = st.selectbox("Attack", names, index=names.index("top-k") if "top-k" in names else 0,
                          key="attack", format_func=lambda n: fg.get_attack(n).title)
    st.caption(fg.get_attack(attack).description)
    choices.attack = attack
    choices.epsilon255 = float(st.slider("ε, largest change per pixel (0-255 scale)", 1, 32, 8,
                                         key="epsilon"))
    with st.expander("Steps, k, β, seed"):
        choices.steps = int(st.number_input("Steps", 1, 1000, 100, key="steps"))
        choices.step_size255 = float(st.number_input("Step size (0-255 scale)", 0.1, 32.0, 1.0,
                                                     step=0.25, key="step_size"))
        pixels = choices.image.shape[-1] * choices.image.shape[-2] if choices.image is not None else 4096
        choices.k = int(st.number_input("k (top pixels compared)", 1, pixels,
                                        min(100, pixels), key="k"))
        choices.beta = float(st.number_input("β of the softplus surrogate", 0.5, 100.0, 10.0,
                                             key="beta"))
        choices.seed = int(st.number_input("Seed", 0, 2**31 - 1, 0, key="seed"))
    if attack == "targeted":
        _region(choices)
    if attack == "target-map":
        _target_map(choices)


def _region(choices: Choices) -> None:
    options = (["Object mask"] if choices.mask is not None else []) + ["Rectangle"]
    kind = st.radio("Region to pull the saliency into", options, key="region_kind", horizontal=True)
    if choices.image is None:
        return
    height, width = choices.image.shape[-2:]
    if kind == "Object mask":
        choices.region = choices.mask
        choices.region_code = "region = " + choices.image_code.replace(".load(", ".load_mask(")
        return
    rows = st.slider("Rows", 0, height, (height // 8, height * 3 // 8), key="region_rows")
    cols = st.slider("Columns", 0, width, (width // 8, width * 3 // 8), key="region_cols")
    region = torch.zeros(height, width, dtype=torch.bool)
    region[rows[0]:rows[1], cols[0]:cols[1]] = True
    if not region.any():
        choices.errors.append("The rectangle is empty: widen the rows or columns.")
    choices.region = region
    choices.region_code = (f"region = torch.zeros({height}, {width}, dtype=torch.bool)\n"
                           f"region[{rows[0]}:{rows[1]}, {cols[0]}:{cols[1]}] = True")


def _target_map(choices: Choices) -> None:
    if choices.model is None or choices.image is None:
        return
    gallery = [s for s in _samples_for(choices.model)
               if choices.sample is None or s.name != choices.sample.name]
    if not gallery:
        choices.errors.append("No other sample image to take the target map from.")
        return
    name = st.selectbox("Target: the map of", [s.name for s in gallery], key="target_sample",
                        format_func=lambda n: next(s.title for s in gallery if s.name == n))
    cache = st.session_state.setdefault("target_maps", {})
    key = state.config_key({"model": choices.model_key, "sample": name,
                            "method": choices.method, "options": choices.method_options})
    try:
        if key not in cache:
            other = next(s for s in gallery if s.name == name).load(size=choices.image.shape[-1])
            cache[key] = fg.explain(choices.model, other[None], choices.method,
                                    **choices.method_options)[0]
    except fg.FragilityError as error:
        choices.errors.append(str(error))
        return
    choices.target_map = cache[key]
    choices.target_code = (
        f'other = next(s for s in fg.samples() if s.name == "{name}").load(size=model.input_size)\n'
        f"target_map = fg.explain(model, other[None], {choices.method!r}, "
        f"**{choices.method_options!r})[0]")
