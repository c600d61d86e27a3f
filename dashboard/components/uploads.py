"""What visitors may upload: file types, size limits, and whether TorchScript is allowed.

Settings, read from the environment when the dashboard starts a page:

- `FRAGILITY_ALLOW_TORCHSCRIPT` = 1 or 0. A TorchScript file runs the code it contains,
  which can read any file the server can, so TorchScript uploads are on by default only
  when the server listens on a loopback address (the person at the keyboard is the only
  visitor) and off when it is served to a network. State dicts (loaded with
  weights_only=True) and safetensors run no code and are always accepted.
- `FRAGILITY_MAX_MODEL_MB` (default 100): the largest model or weights file.

Every limit is checked here, on the server, with a message that names the file and the
limit. Streamlit's own `server.maxUploadSize` stays the ceiling above which the browser
refuses a file before sending it, so no limit stated here is above it: the one limit a
visitor reads is the one that holds.
"""

from __future__ import annotations

import os

import streamlit as st

import fragility as fg
from fragility.images import EXTENSIONS as IMAGE_TYPES
from fragility.images import FORMATS as IMAGE_FORMATS
from fragility.labels import MAX_BYTES as LABELS_BYTES

from .. import settings
from .failures import escape

MODEL_TYPES = ("pt", "pth", "ts", "safetensors", "bin")
LABEL_TYPES = ("txt", "json")
IMAGE_MB = 20
TORCHSCRIPT_SETTING = "FRAGILITY_ALLOW_TORCHSCRIPT"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

__all__ = ["IMAGE_FORMATS", "IMAGE_TYPES", "LABEL_TYPES", "MODEL_TYPES", "read",
           "torchscript_allowed", "torchscript_off_message", "uploader"]


def model_limit_mb() -> int:
    try:
        return max(1, int(os.environ.get("FRAGILITY_MAX_MODEL_MB", "100")))
    except ValueError:
        return 100


def limit_bytes(kind: str) -> int:
    """The largest file of `kind` ("image", "labels" or "model") in bytes: its own limit,
    or the server's upload ceiling where that is lower."""
    own = {"image": IMAGE_MB * 1_000_000, "labels": LABELS_BYTES,
           "model": model_limit_mb() * 1_000_000}[kind]
    return min(own, server_ceiling_mb() * 1_000_000)


def server_ceiling_mb() -> int:
    """server.maxUploadSize: above it the browser refuses a file before it is sent."""
    return int(st.get_option("server.maxUploadSize"))


def limit_text(kind: str) -> str:
    return f"{limit_bytes(kind) / 1_000_000:g} MB"


def read(upload, kind: str) -> bytes:
    """The bytes of an uploaded image or model file, or InputError if over the limit."""
    size = upload.size
    if size > limit_bytes(kind):
        what = {"image": "an image", "labels": "a labels file", "model": "a model file"}[kind]
        raise fg.InputError(f"{upload.name} is {size / 1_000_000:.1f} MB; the limit for "
                            f"{what} is {limit_text(kind)}")
    return upload.getvalue()


def torchscript_allowed() -> bool:
    """FRAGILITY_ALLOW_TORCHSCRIPT if set, else whether the server binds a loopback address."""
    value = os.environ.get(TORCHSCRIPT_SETTING, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    address = st.get_option("server.address") or ""    # unset: every interface
    return settings.is_loopback(address.strip().strip("[]").lower())


def torchscript_off_message() -> str:
    """Why TorchScript is off here: the operator's setting, or a server open to a network."""
    turned_off = os.environ.get(TORCHSCRIPT_SETTING, "").strip().lower() in _FALSE
    why = (f"The person who started the dashboard turned them off (`{TORCHSCRIPT_SETTING}="
           f"{os.environ.get(TORCHSCRIPT_SETTING, '').strip()}`): a TorchScript file runs the "
           "code it contains, and that code could read the server's files. "
           if turned_off else
           "A TorchScript file runs the code it contains, and that code could read the "
           "server's files, so a dashboard served to a network accepts only weights. The "
           "person who started the dashboard can turn TorchScript on with "
           f"`{TORCHSCRIPT_SETTING}=1` (for visitors they trust). ")
    return ("**TorchScript uploads are off on this server.** " + why +
            "State dicts and safetensors files for the listed architectures run no code and "
            "work here: choose **State dict**.")


TYPES = {"image": tuple(IMAGE_TYPES), "labels": LABEL_TYPES, "model": MODEL_TYPES}
# Streamlit writes the server-wide ceiling (server.maxUploadSize) under every uploader; this
# rule writes the limit of the uploader's own kind there instead. Passing the limit as the
# uploader's max_upload_size would print it too, but then the browser refuses a bigger file
# with only a red icon, where the server's check names the file and the limit.
_CAPTION_RULE = """<style>
.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; white-space: normal; }}
.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span::after {{
  content: "{caption}"; font-size: 0.875rem; }}
</style>"""


def uploader(label: str, kind: str, key: str, help: str):
    """A file uploader for `kind` ("image", "labels" or "model") whose caption states that
    kind's limit and file types."""
    caption = f"{limit_text(kind)} per file • {', '.join(t.upper() for t in TYPES[kind])}"
    st.html(_CAPTION_RULE.format(key=key, caption=caption.replace("\\", "").replace('"', "")))
    return st.file_uploader(label, type=list(TYPES[kind]), key=key, help=help)


def type_list(types: tuple[str, ...]) -> str:
    return ", ".join(f".{extension}" for extension in types)


def quoted(name: str) -> str:
    return escape(name)
