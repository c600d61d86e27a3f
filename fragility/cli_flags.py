"""The flags of `fragility attack`, generated from the declared parameters.

Every attack parameter, method option and defence option becomes a flag (method options
as --METHOD-OPTION, defence options as --defence-OPTION). Values are checked in the units
they are typed in (eps on the 0-255 scale) and every message names the flag.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from .attacks import attacks, get_attack
from .attacks.api import baseline_parameters
from .attacks.registry import all_parameters
from .defences import defences, get_defence
from .errors import ConfigError
from .explainers import get_method, methods
from .presets import PRESETS
from .registry import Parameter

_TYPES = {"int": int, "float": float, "text": str}


def add_attack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", required=True, help="the image file to attack")
    parser.add_argument("--model", default="bundled",
                        help="model name or model file (default: bundled, which works offline)")
    parser.add_argument("--method", default="gradient", choices=methods(), help="explanation method")
    parser.add_argument("--attack", default="top-k", choices=attacks(), help="attack (default: top-k)")
    parser.add_argument("--preset", choices=list(PRESETS),
                        help="start from named settings; flags given override them. paper: "
                             + PRESETS["paper"].description.replace("%", "%%"))
    parser.add_argument("--target", type=int, metavar="CLASS",
                        help="the class to explain (default: the predicted class; the attack keeps "
                             "the predicted label either way)")
    parser.add_argument("--defence", choices=defences(), help="switch a defence on for the method")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the random-sign baseline of the same eps")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if available)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    parser.add_argument("--report", type=Path, metavar="HTML",
                        help="also write one self-contained HTML page of the run (opens offline)")
    parser.add_argument("--picture-width", type=int, metavar="PIXELS",
                        help="also write slide-ready pictures this wide into --out: panel-slide.png, "
                             "history-slide.png and history-slide.svg")

    users = _users()
    group = parser.add_argument_group("attack parameters (each attack uses the ones it declares)")
    for parameter in all_parameters().values():
        _add(group, parameter, parameter.flag, f"attack:{parameter.name}",
             f"used by: {', '.join(users[parameter.name])}")
    for method in methods():
        spec = get_method(method)
        if spec.parameters:
            group = parser.add_argument_group(f"{method} options")
            for parameter in spec.parameters:
                _add(group, parameter, method_flag(method, parameter), f"method:{method}:{parameter.name}")
    for name in defences():
        group = parser.add_argument_group(f"{name} defence options")
        for parameter in get_defence(name).parameters:
            _add(group, parameter, defence_flag(parameter), f"defence:{name}:{parameter.name}")


def method_flag(method: str, parameter: Parameter) -> str:
    return f"--{method}-{parameter.name.replace('_', '-')}"


def defence_flag(parameter: Parameter) -> str:
    return f"--defence-{parameter.name.replace('_', '-')}"


def _users() -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for name in attacks():
        for parameter in get_attack(name).parameters:
            users.setdefault(parameter.name, []).append(name)
    return users


def _add(group, parameter: Parameter, flag: str, dest: str, note: str = "") -> None:
    scale = f" on the 0-{parameter.scale:g} scale" if parameter.scale != 1 else ""
    default = parameter.describe_default()
    if "default:" in parameter.help:     # the help says it (a default that depends on the image)
        text = f"{parameter.help}{' (' + note + ')' if note else ''}"
    else:
        text = f"{parameter.help} (default: {default}{scale}{'; ' + note if note else ''})"
    text = text.replace("%", "%%")
    if parameter.kind == "mask":
        group.add_argument(flag, dest=dest, type=float, nargs=4, metavar=("TOP", "LEFT", "BOTTOM", "RIGHT"),
                           help=f"{parameter.help}: a box as fractions of the image ({note})".replace("%", "%%"))
    elif parameter.kind == "map":
        group.add_argument(flag, dest=dest, metavar="PATH",
                           help=f"{parameter.help}: a grayscale image, brighter = more ({note})".replace("%", "%%"))
    elif parameter.kind == "choice":
        group.add_argument(flag, dest=dest, choices=parameter.choices, help=text)
    elif parameter.kind == "bool":
        group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, help=text)
    else:
        group.add_argument(flag, dest=dest, type=_TYPES[parameter.kind], help=text,
                           metavar=parameter.name.upper())


def _given(args: argparse.Namespace, prefix: str) -> dict[str, object]:
    return {dest[len(prefix):]: value for dest, value in vars(args).items()
            if dest.startswith(prefix) and value is not None}


def attack_request(args: argparse.Namespace) -> dict:
    """The attack's parameters, method options and defence options from the flags, each
    checked in the units it was typed in; masks and maps are resolved later (image size)."""
    spec = get_attack(args.attack)
    preset = PRESETS[args.preset].arguments(args.method) if args.preset else {"method_options": {}}
    # A preset's None (k) is the default for the image, resolved by the attack itself.
    parameters = {name: value for name, value in preset.items()
                  if name != "method_options" and value is not None and spec.parameter(name) is not None}
    for name, value in _given(args, "attack:").items():
        parameter = spec.parameter(name)
        if parameter is None:
            users = ", ".join(_users()[name])
            raise ConfigError(f"{all_parameters()[name].flag} is not used by the {args.attack} attack "
                              f"(it is used by: {users})")
        parameters[name] = parameter.check(value, parameter.flag, parameter.scale) \
            if parameter.kind not in ("mask", "map") else value

    method_options = dict(preset["method_options"])
    for key, value in _given(args, "method:").items():
        owner, name = key.split(":", 1)
        parameter = next(p for p in get_method(owner).parameters if p.name == name)
        if owner != args.method:
            raise ConfigError(f"{method_flag(owner, parameter)} is an option of {owner}, but --method "
                              f"is {args.method}")
        method_options[name] = parameter.check(value, method_flag(owner, parameter), parameter.scale)

    defence_options = {}
    for key, value in _given(args, "defence:").items():
        owner, name = key.split(":", 1)
        parameter = next(p for p in get_defence(owner).parameters if p.name == name)
        if args.defence is None:
            raise ConfigError(f"{defence_flag(parameter)} needs --defence")
        if owner == args.defence:
            defence_options[name] = parameter.check(value, defence_flag(parameter), parameter.scale)
    return {"parameters": parameters, "method_options": method_options, "defence_options": defence_options}


def resolve_inputs(args: argparse.Namespace, request: dict, model, image: torch.Tensor) -> dict:
    """Keyword arguments of fg.attack: the request, with masks and maps made for the image."""
    from .images import load_image

    spec = get_attack(args.attack)
    height, width = image.shape[-2:]
    parameters = dict(request["parameters"])
    for name, value in request["parameters"].items():
        parameter = spec.parameter(name)
        if parameter.kind == "mask":
            parameters[name] = box_mask(value, height, width, parameter.flag)
        elif parameter.kind == "map":
            picture = load_image(value, size=None).mean(dim=0)
            parameters[name] = torch.nn.functional.interpolate(
                picture[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    for parameter in spec.parameters:
        if parameter.kind in ("mask", "map") and not parameter.optional and parameters.get(parameter.name) is None:
            raise ConfigError(f"the {args.attack} attack needs {parameter.flag}")
    if "k" in parameters and parameters["k"] > height * width:
        raise ConfigError(f"--k must be at most the image's {height * width} pixels, got {parameters['k']}")
    parameters.setdefault("steps", spec.parameter("steps").default)
    if args.target is not None:
        with torch.no_grad():
            classes = model(image[None].to(model.device)).shape[-1]
        if not 0 <= args.target < classes:
            raise ConfigError(f"--target must be a class index in [0, {classes - 1}], got {args.target}")
    return {**parameters, "method_options": request["method_options"], "target": args.target,
            "defence": args.defence, "defence_options": request["defence_options"] or None}


def baseline_arguments(attack: str, method: str, arguments: dict) -> dict:
    """fg.attack arguments of the random-sign baseline for the same eps, steps and criterion."""
    return {**baseline_parameters(attack, arguments), "attack": "random-sign",
            "method_options": arguments["method_options"],
            "target": arguments["target"], "defence": arguments["defence"],
            "defence_options": arguments["defence_options"], "method": method}


def box_mask(box: list[float], height: int, width: int, flag: str) -> torch.Tensor:
    top, left, bottom, right = box
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ConfigError(f"{flag} TOP LEFT BOTTOM RIGHT must be fractions with 0 <= top < bottom <= 1 "
                          f"and 0 <= left < right <= 1, got {box}")
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[int(top * height):max(int(bottom * height), int(top * height) + 1),
         int(left * width):max(int(right * width), int(left * width) + 1)] = True
    return mask


def device(name: str | None) -> torch.device | None:
    """The --device, checked: a device this machine has."""
    if name is None:
        return None
    try:
        chosen = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name!r} is not a device; use cpu, cuda or cuda:N") from None
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {name}: no CUDA GPU is available here; use --device cpu "
                              "(or leave --device out)")
        if chosen.index is not None and chosen.index >= count:
            raise ConfigError(f"--device {name}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}")
    elif chosen.type != "cpu":
        raise ConfigError(f"--device {name}: use cpu, cuda or cuda:N")
    return chosen


def output_folder(path: Path) -> Path:
    """--out, created if needed and checked writable before any work starts."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {str(path)!r} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out {str(path)!r}: cannot create the folder ({error.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"--out {str(path)!r}: the folder is not writable")
    return path
