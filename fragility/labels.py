"""Class names from a labels file: one name per line (.txt), or JSON.

JSON may be a list of names, a mapping from class index to name ({"0": "cat", ...}), or
torchvision's ImageNet index ({"0": ["n01440764", "tench"], ...}: the last entry is the
name). Files are read as data only, within fixed limits, and every problem is an
InputError naming the file and what is expected.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError

MAX_BYTES = 1_000_000          # a labels file for 100,000 classes fits easily
MAX_LABEL_CHARS = 200
LABEL_SUFFIXES = (".txt", ".json")


def load_labels(source: str | Path | bytes, name: str | None = None,
                classes: int | None = None) -> list[str]:
    """Class names from a path or the bytes of a .txt or .json labels file.

    `name`: the file name for messages (and, with bytes, for telling .json from .txt).
    `classes`: when given, the number of labels must be exactly this.
    """
    data, name = _read(source, name)
    if len(data) > MAX_BYTES:
        raise InputError(f"labels file {name} is {len(data):,} bytes; the limit is "
                         f"{MAX_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"labels file {name} is not UTF-8 text; expected one label per "
                         "line (.txt) or a JSON list of names (.json)") from None
    labels = _from_json(text, name) if _is_json(name, text) else _from_lines(text)
    _check(labels, name, classes)
    return labels


def _read(source: str | Path | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "the labels data"
    if not isinstance(source, (str, Path)):
        raise InputError(f"labels must come from a path or bytes, got {type(source).__name__}")
    path = Path(source).expanduser()
    name = name or str(path)
    if not path.is_file():
        raise InputError(f"no such labels file: {name}")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"labels file {name} is {path.stat().st_size:,} bytes; the limit "
                         f"is {MAX_BYTES:,} bytes")
    return path.read_bytes(), name


def _is_json(name: str, text: str) -> bool:
    if name.lower().endswith(".json"):
        return True
    if name.lower().endswith(".txt"):
        return False
    return text.lstrip()[:1] in ("[", "{")


def _from_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _from_json(text: str, name: str) -> list[str]:
    expected = ('expected a JSON list of names, or a mapping from class index to name '
                '({"0": "cat", "1": "dog"})')
    try:
        parsed = json.loads(text)
    except RecursionError:
        raise InputError(f"labels file {name} nests JSON too deeply; {expected}") from None
    except json.JSONDecodeError as error:   # the position helps find the typo
        raise InputError(f"labels file {name} is not valid JSON ({error.msg} at line "
                         f"{error.lineno}, column {error.colno}); {expected}") from None
    except ValueError:    # e.g. a number of more digits than Python converts
        raise InputError(f"labels file {name} holds a number too long to read; "
                         f"{expected}") from None
    if isinstance(parsed, dict):
        indices = {}
        for key in parsed:
            try:
                indices[int(key)] = key
            except ValueError:
                raise InputError(f"labels file {name} has the key {_short(key)!r}, not a "
                                 f"class index; {expected}") from None
        if sorted(indices) != list(range(len(indices))):
            raise InputError(f"labels file {name} must number its classes 0 to "
                             f"{len(indices) - 1} without gaps; {expected}")
        values = [parsed[indices[index]] for index in range(len(indices))]
    elif isinstance(parsed, list):
        values = parsed
    else:
        raise InputError(f"labels file {name} holds a JSON {type(parsed).__name__}; {expected}")
    return [_label_of(value, name, expected) for value in values]


def _label_of(value: object, name: str, expected: str) -> str:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = value[-1]    # torchvision's ImageNet index: [wordnet id, name]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"labels file {name} has an entry of type {type(value).__name__} "
                         f"where a name is expected; {expected}")
    return str(value).strip()


def _check(labels: list[str], name: str, classes: int | None) -> None:
    if not labels:
        raise InputError(f"labels file {name} has no labels; expected one label per line "
                         "(.txt) or a JSON list of names (.json)")
    long = next((label for label in labels if len(label) > MAX_LABEL_CHARS), None)
    if long is not None:
        raise InputError(f"labels file {name} has a label of {len(long):,} characters; the "
                         f"limit is {MAX_LABEL_CHARS} per label")
    if classes is not None and len(labels) != classes:
        raise InputError(f"labels file {name} has {len(labels)} labels but the model has "
                         f"{classes} classes; give exactly {classes}, one per class in order")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
