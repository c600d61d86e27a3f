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
UPLOAD = "Upload your own image"
JS_MAX_INT = 2**53 - 1     # the browser's largest exact integer


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
    target: int | None = None                       # the class explained; None: the predicted one
    defence: str | None = None
    defence_options: dict = field(default_factory=dict)
    attack: str = "top-k"
    parameters: dict = field(default_factory=dict)  # the attack's parameters, in API units
    region_code: str = ""
    target_code: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.model is not None and self.image is not None and not self.errors

    @property
    def epsilon255(self) -> float:
        return self.parameters.get("epsilon", 0.0) * 255

    @property
    def steps(self) -> int:
        return self.parameters.get("steps", 0)

    @property
    def k(self) -> int:
        return self.parameters["k"]

    def attack_arguments(self) -> dict:
        """Keyword arguments of fg.attack, apart from model, images and callback."""
        return dict(method=self.method, attack=self.attack, method_options=dict(self.method_options),
                    target=self.target, defence=self.defence,
                    defence_options=dict(self.defence_options) if self.defence else None,
                    mask=self.mask, **self.parameters)

    def baseline_arguments(self) -> dict:
        """fg.attack arguments of the random-sign baseline compared with this attack."""
        spec = fg.get_attack("random-sign")
        criterion = self.attack if fg.get_attack(self.attack).kind == "interpretation" else "top-k"
        arguments = {name: value for name, value in self.attack_arguments().items()
                     if spec.parameter(name) is not None or name not in self.parameters}
        return {**arguments, "attack": "random-sign", "criterion": criterion}

    def key_parts(self) -> dict:
        arguments = self.attack_arguments()
        for name, value in arguments.items():
            if isinstance(value, torch.Tensor):
                arguments[name] = state.digest(value)
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
            zoo = [name for name in model_names() if not name.startswith("bundled")]
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
    return uploads.uploader("Labels (optional .txt or .json)", "labels",
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
        architecture = st.selectbox("Architecture", [n for n in model_names()
                                                     if not n.startswith("bundled")]
                                    + ["bundled"], key="own_architecture")
    elif not uploads.torchscript_allowed():
        choices.errors.append(uploads.torchscript_off_message())
        return
    else:
        input_size = int(st.number_input("Input size (pixels)", 8, 1024, state.IMAGE_SIZE,
                                         key="own_input_size",
                                         help="The side of the square images your model takes."))
    upload = uploads.uploader(
        "Model file", "model", key="own_model_file",
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
        shown = tuple(sample.name for sample in gallery[:12])
        st.image(state.gallery_png(shown, size), width="content", output_format="PNG")
    if st.session_state.get("image_choice") not in names:
        st.session_state.pop("image_choice", None)
    name = st.selectbox("Sample", names, key="image_choice",
                        format_func=lambda n: titles.get(n, n))
    try:
        if name == UPLOAD:
            upload = uploads.uploader(
                "Image file", "image", key="image_file",
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
    choices.method_options = _widgets(spec.parameters, lambda name: f"option:{method}:{name}", choices)
    _target_class(choices)
    _defence(choices)


def _target_class(choices: Choices) -> None:
    """The class explained: the predicted one, or any class of the model."""
    labels = choices.model.labels if choices.model is not None else None
    if not labels:
        return
    options = [None, *range(len(labels))]
    if st.session_state.get("target_class") not in options:
        st.session_state.pop("target_class", None)
    choices.target = st.selectbox(
        "Class to explain", options, key="target_class",
        format_func=lambda i: "the predicted class" if i is None else f"{i}: {labels[i]}",
        help="Explain any class, not only the predicted one. The attack still keeps the "
             "predicted label.")


def _defence(choices: Choices) -> None:
    names = [None, *fg.defences()]
    defence = st.selectbox("Defence", names, key="defence",
                           format_func=lambda n: "none" if n is None else fg.get_defence(n).title,
                           help="Compute the maps with a defence switched on (Dombrowski et al., "
                                "2019; Smilkov et al., 2017).")
    choices.defence = defence
    if defence is not None:
        spec = fg.get_defence(defence)
        st.caption(spec.description)
        choices.defence_options = _widgets(spec.parameters, lambda name: f"defence:{defence}:{name}",
                                           choices)


def top_k_title(choices: Choices) -> str:
    """"Top-82 (2% of the pixels)": k said as the share of the map it covers."""
    pixels = choices.image.shape[-2] * choices.image.shape[-1]
    return f"Top-{choices.k} ({100 * choices.k / pixels:.2g}% of the pixels)"


def photo_note(choices: Choices) -> str:
    """A warning for an uploaded image under a model of generated shapes ("" otherwise):
    such a model names one of its shapes for any photo, often at 100%."""
    if choices.model is None or choices.model.domain != "synthetic" or choices.sample is not None:
        return ""
    from fragility.models.zoo import cache_file
    example = "resnet18"
    target = cache_file(example)
    shapes = ", ".join(choices.model.labels)
    return (f"**This model knows only {len(choices.model.labels)} generated shapes** ({shapes}), "
            "so if this upload is a photo, its label and confidence mean nothing. For photos choose "
            f"**Torchvision zoo** under Model in the sidebar (e.g. {example}, trained on "
            "ImageNet). Offline, first place its weights file "
            f"`{target.name}` in the folder `{target.parent}`.")


def adaptive_note(choices: Choices) -> str:
    """One line saying how a defence is attacked ("" without a defence)."""
    if choices.defence is None:
        return ""
    title = fg.get_defence(choices.defence).title
    note = (f"**Adaptive attack:** the attack differentiates the map with {title} on, not the "
            "undefended one, as Dombrowski et al. (2019) did")
    if "fresh_noise" in {p.name for p in fg.get_defence(choices.defence).parameters}:
        note += ("; fresh noise at every step (expectation over the noise)"
                 if choices.defence_options.get("fresh_noise") else
                 "; the same noise draw at every step (*Fresh noise* draws new noise each step)")
    return note + "."


def _attack(choices: Choices) -> None:
    st.header("Attack")
    names = fg.attacks()
    attack = st.selectbox("Attack", names, index=names.index("top-k") if "top-k" in names else 0,
                          key="attack", format_func=lambda n: fg.get_attack(n).title)
    spec = fg.get_attack(attack)
    st.caption(spec.description)
    choices.attack = attack
    st.button(fg.PAPER.title, key="preset_paper", icon=":material/menu_book:", on_click=_apply_paper,
              args=(choices.method, choices.image), help=fg.PAPER.description)
    choices.parameters = _widgets(spec.parameters, lambda name: name, choices)


def _apply_paper(method: str, image) -> None:
    """Set the widgets to the paper's settings (before they are drawn again)."""
    for name, value in fg.PAPER.attack.items():
        parameter = fg.get_attack("top-k").parameter(name)
        if value is None and image is not None:
            value = parameter.default_for(*image.shape[-2:])
        if value is not None:
            st.session_state[name] = _shown_value(parameter, value)
    for owner, options in fg.PAPER.methods.items():
        for name, value in options.items():
            st.session_state[f"option:{owner}:{name}"] = value


def _shown_value(parameter: fg.Parameter, value):
    return value * parameter.scale if parameter.kind == "float" and parameter.scale != 1 else value


# ---------------------------------------------------------------- widgets from declarations

def _widgets(parameters, key_of, choices: Choices) -> dict:
    """One widget per declared parameter (advanced ones folded away); their values, in API units."""
    values = {}
    plain = [p for p in parameters if not p.advanced]
    folded = [p for p in parameters if p.advanced]
    for parameter in plain:
        values[parameter.name] = _widget(parameter, key_of(parameter.name), choices)
    if folded:
        with st.expander("More settings"):
            for parameter in folded:
                values[parameter.name] = _widget(parameter, key_of(parameter.name), choices)
    return {name: value for name, value in values.items() if value is not None}


def _widget(parameter: fg.Parameter, key: str, choices: Choices):
    """The widget of one parameter; returns its value in API units (None: not given)."""
    label = f"{parameter.title} (0-255 scale)" if parameter.scale == 255 else parameter.title
    if parameter.name == "epsilon":
        label = "ε, largest change per pixel (0-255 scale)"
    if parameter.kind == "mask":
        return _region(choices, key)
    if parameter.kind == "map":
        return _target_map(choices, key)
    if parameter.kind == "choice":
        return st.selectbox(label, parameter.choices, index=parameter.choices.index(parameter.default),
                            key=key, help=parameter.help)
    if parameter.kind == "bool":
        return st.checkbox(label, value=parameter.default, key=key, help=parameter.help)
    if parameter.kind == "text":
        text = st.text_input(label, value=parameter.default or "", key=key, help=parameter.help,
                             placeholder="default")
        return text.strip() or parameter.default
    return _number(parameter, label, key, choices)


def _number(parameter: fg.Parameter, label: str, key: str, choices: Choices):
    scale = parameter.scale
    size = choices.image.shape[-2:] if choices.image is not None else (None, None)
    default = parameter.default_for(*size)
    low = None if parameter.low is None else parameter.low * scale
    high = parameter.widget_high if parameter.widget_high is not None else \
        (None if parameter.high is None else parameter.high * scale)
    if parameter.name == "k" and size[0]:
        high = size[0] * size[1]
    high = None if high is None else min(high, JS_MAX_INT)
    if parameter.kind == "int":
        value = st.number_input(label, min_value=None if low is None else int(low),
                                max_value=None if high is None else int(high),
                                value=None if default is None else int(default), step=1, key=key,
                                help=parameter.help, placeholder="default")
        return None if value is None else int(value)
    if not parameter.low_inclusive and low is not None:
        low = low + (0.01 if scale != 1 else 1e-3)
    shown = None if default is None else float(default * scale)
    low, high = (None if low is None else float(low)), (None if high is None else float(high))
    if parameter.name == "epsilon":
        value = st.slider(label, float(low or 0), float(high), shown, step=0.5, key=key, help=parameter.help)
    else:
        step = 0.25 if scale != 1 else max(round((shown or 0.2) / 4, 4), 1e-4)
        value = st.number_input(label, min_value=low, max_value=high, value=shown, step=step,
                                format="%g", key=key, help=parameter.help)
    return None if value is None else float(value) / scale


def _region(choices: Choices, key: str):
    options = (["Object mask"] if choices.mask is not None else []) + ["Rectangle"]
    kind = st.radio("Region to pull the saliency into", options, key="region_kind", horizontal=True)
    if choices.image is None:
        return None
    height, width = choices.image.shape[-2:]
    if kind == "Object mask":
        choices.region_code = "region = " + choices.image_code.replace(".load(", ".load_mask(")
        return choices.mask
    rows = st.slider("Rows", 0, height, (height // 8, height * 3 // 8), key="region_rows")
    cols = st.slider("Columns", 0, width, (width // 8, width * 3 // 8), key="region_cols")
    region = torch.zeros(height, width, dtype=torch.bool)
    region[rows[0]:rows[1], cols[0]:cols[1]] = True
    if not region.any():
        choices.errors.append("The rectangle is empty: widen the rows or columns.")
    choices.region_code = (f"region = torch.zeros({height}, {width}, dtype=torch.bool)\n"
                           f"region[{rows[0]}:{rows[1]}, {cols[0]}:{cols[1]}] = True")
    return region


def target_samples(choices: Choices) -> list:
    """The samples whose map a target-map attack can take (all but the attacked one)."""
    if choices.model is None:
        return []
    return [s for s in _samples_for(choices.model)
            if choices.sample is None or s.name != choices.sample.name]


def target_map_for(choices: Choices, sample_name: str, method: str, method_options: dict) -> torch.Tensor:
    """The map `method` gives for the sample `sample_name`: a target-map attack's target."""
    cache = st.session_state.setdefault("target_maps", {})
    key = state.config_key({"model": choices.model_key, "sample": sample_name, "method": method,
                            "options": method_options, "class": choices.target})
    if key not in cache:
        other = fg.get_sample(sample_name).load(size=choices.image.shape[-1])
        cache[key] = fg.explain(choices.model, other[None], method, target=choices.target,
                                **method_options)[0]
    return cache[key]


def _target_map(choices: Choices, key: str):
    if choices.model is None or choices.image is None:
        return None
    gallery = target_samples(choices)
    if not gallery:
        choices.errors.append("No other sample image to take the target map from.")
        return None
    name = st.selectbox("Target: the map of", [s.name for s in gallery], key="target_sample",
                        format_func=lambda n: next(s.title for s in gallery if s.name == n))
    try:
        target = target_map_for(choices, name, choices.method, choices.method_options)
    except fg.FragilityError as error:
        choices.errors.append(str(error))
        return None
    choices.target_code = (
        f'other = fg.get_sample("{name}").load(size=model.input_size)\n'
        f"target_map = fg.explain(model, other[None], {choices.method!r}, "
        f"target={choices.target!r}, **{choices.method_options!r})[0]")
    return target
