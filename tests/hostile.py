"""A corpus of hostile and awkward uploads, generated at test time from this source.

Each item is a file a visitor could upload to the dashboard: broken and truncated
images, decompression bombs, polyglots, files with lying names or extensions, pickles
whose loading would run a command, TorchScript that reads a server file and tries to
show it, hangs forever or returns the wrong thing, hostile labels files and files over
the size limits. `expect` is a pattern the page's message must match (None: the file
is fine and must be accepted). Tests use the same corpus against the engine, the
command line and the running dashboard.

The secret file, the marker file (created by a pickle if it ever ran) and the model
size limit come from the test, so nothing here depends on the machine.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import List

import numpy as np
import torch
from PIL import Image
from torch import nn

# Where an item is uploaded: the image of the bundled model, its labels file, or a model
# file of "Your own file" as a state dict for the bundled architecture or as TorchScript.
SLOTS = ("image", "labels", "state-dict", "torchscript")


@dataclass(frozen=True)
class Context:
    secret: Path           # a file on the server whose contents must never be shown
    marker: Path           # created only if code hidden in a pickle ran
    model_limit_mb: int    # FRAGILITY_MAX_MODEL_MB of the server under test


@dataclass(frozen=True)
class Item:
    name: str
    data: bytes
    slot: str
    expect: str | None     # regex of the message shown; None when the file is accepted
    why: str


# ------------------------------------------------------------------ TorchScript models

class StealInForward(nn.Module):
    """Reads the secret file in forward and raises its contents as the error message."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def forward(self, x):
        data = torch.from_file(self.path, False, 40, dtype=torch.uint8)
        values: List[int] = data.to(torch.int64).tolist()
        chars: List[str] = []
        for value in values:
            chars.append(chr(value))
        raise RuntimeError("".join(chars))
        return x.mean(dim=(2, 3))


class StealWhileLoading(nn.Module):
    """Reads the secret file in __setstate__, which torch.jit.load runs, and raises it."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1) * self.weight

    @torch.jit.export
    def __getstate__(self):
        return (self.path, self.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, torch.Tensor, bool]):
        self.path = state[0]
        self.weight = state[1]
        self.training = state[2]
        data = torch.from_file(self.path, False, 40, dtype=torch.uint8)
        values: List[int] = data.to(torch.int64).tolist()
        chars: List[str] = []
        for value in values:
            chars.append(chr(value))
        raise RuntimeError("".join(chars))


class Forever(nn.Module):
    """A forward pass that never returns (a loop inside TorchScript, out of Python's reach)."""

    def forward(self, x):
        n = 0
        while n >= 0:
            n = (n + 1) % 1000
        return x.mean(dim=(2, 3))


class ReturnsTuple(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3)), x.std(dim=(2, 3))


class ReturnsFlat(nn.Module):
    def forward(self, x):
        return x.mean(dim=(1, 2, 3))


class ThreeClasses(nn.Module):
    """A fine classifier of three classes (for a labels file with the wrong count)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def torchscript(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # TorchScript is deprecated upstream
        torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ pickles and weights

class RunsCommand:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def torch_saved(payload) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def bundled_state() -> dict[str, torch.Tensor]:
    from fragility.models.bundled import build_net
    torch.manual_seed(0)
    return build_net(10).state_dict()


def zip_bomb_state() -> bytes:
    """Real bundled weights plus an unreferenced entry of 200 MB of zeros in 0.2 MB."""
    buffer = io.BytesIO(torch_saved(bundled_state()))
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("archive/extra/bomb", "w", force_zip64=True) as entry:
            block = bytes(1 << 22)
            for _ in range(50):
                entry.write(block)
    return buffer.getvalue()


def deflated(data: bytes) -> bytes:
    """The same archive with every entry compressed (torch.save stores them as they are)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info.filename))
    return buffer.getvalue()


def deflate_bomb_state() -> bytes:
    """Bundled weights plus a referenced tensor of 50M zeros (200 MB), deflated to 1.5 MB."""
    return deflated(torch_saved({**bundled_state(), "bomb": torch.zeros(50_000_000)}))


def many_tensors(count: int = 500) -> dict[str, torch.Tensor]:
    """Bundled weights plus `count` one-element tensors: hundreds of entries to read."""
    return {**bundled_state(), **{f"extra.{index}": torch.zeros(1) for index in range(count)}}


def non_finite_state(value: float) -> dict[str, torch.Tensor]:
    state = bundled_state()
    state["0.weight"] = state["0.weight"].clone()
    state["0.weight"][0, 0, 0, 0] = value
    return state


def safetensors_bytes(state: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save
    return save({key: value.contiguous() for key, value in state.items()})


def safetensors_header(header: bytes, tail: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + tail


# ------------------------------------------------------------------ images

def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def noisy(size: int = 64, fmt: str = "PNG") -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _chunk(b"IEND", b""))


def text_bomb() -> bytes:
    """A valid 8x8 PNG with a compressed text chunk that inflates to 50 MB."""
    data = png(Image.new("RGB", (8, 8), (10, 200, 30)))
    chunk = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 50_000_000, 9))
    return data[:-12] + chunk + data[-12:]


def polyglot() -> bytes:
    """A valid PNG with a zip archive (holding a Python script) appended."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("__main__.py", "import os; os.system('touch /tmp/never')")
    return noisy() + archive.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (80, 80), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def flat_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 120, 40)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def oversized_bmp(megabytes: float) -> bytes:
    side = int((megabytes * 1_000_000 / 3) ** 0.5) + 1
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (90, 90, 90)).save(buffer, "BMP")
    return buffer.getvalue()


MARKUP_NAME = "[click](javascript:alert(1)) $x^2$ <b>bold</b> :red[red].png"
MARKUP_LABELS = ["<img src=x onerror=alert(1)>", "[link](javascript:alert(1))", "$\\int x$",
                 ":red[colour]", "**bold**", "# heading", "`code`", "plain", "~~strike~~",
                 "<script>alert(1)</script>"]


# ------------------------------------------------------------------ the corpus

def _items(context: Context) -> dict[str, Callable[[], Item]]:
    secret, marker = str(context.secret), context.marker
    limit = context.model_limit_mb
    rng = np.random.default_rng(1)
    return {
        # images
        "random.png": lambda: Item("random.png", rng.bytes(4096), "image",
                                   r"random\.png is not an image", "random bytes"),
        "empty.png": lambda: Item("empty.png", b"", "image", r"empty\.png is empty", "0 bytes"),
        "truncated.png": lambda: Item("truncated.png", noisy()[:3000], "image",
                                      r"truncated\.png is a damaged or truncated image",
                                      "a PNG cut in half"),
        "truncated.jpg": lambda: Item("truncated.jpg", noisy(fmt="JPEG")[:2000], "image",
                                      r"truncated\.jpg is a damaged or truncated image",
                                      "a JPEG cut short"),
        "bomb.png": lambda: Item("bomb.png", png_declaring(30_000, 30_000), "image",
                                 r"bomb\.png declares an image of 900,000,000 pixels, more "
                                 r"than the limit of 40,000,000 pixels",
                                 "a decompression bomb: 900 Mpx declared in 100 bytes"),
        "huge-dimensions.png": lambda: Item(
            "huge-dimensions.png", png_declaring(7000, 7000), "image",
            r"huge-dimensions\.png is 7000x7000 pixels, more than the limit of 40,000,000",
            "49 Mpx, under Pillow's own bomb limit but over ours"),
        "text-bomb.png": lambda: Item("text-bomb.png", text_bomb(), "image",
                                      r"text-bomb\.png is a damaged or truncated image",
                                      "a compressed text chunk that inflates to 50 MB"),
        "script.svg.png": lambda: Item(
            "script.svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
            b"<script>alert(2)</script></svg>", "image", r"script\.svg\.png is an SVG",
            "an SVG with scripts, named .png"),
        "page.jpg": lambda: Item("page.jpg", b"<!DOCTYPE html><html><script>alert(1)</script>"
                                 b"</html>", "image", r"page\.jpg is not an image \(text or HTML\)",
                                 "HTML with a script, named .jpg"),
        "pickle.png": lambda: Item("pickle.png", pickle.dumps(RunsCommand(marker)), "image",
                                   r"pickle\.png is not an image",
                                   "a pickle that would run a command, named .png"),
        "markup-name.png": lambda: Item(MARKUP_NAME, rng.bytes(512), "image",
                                        r"is not an image",
                                        "a file name full of Markdown, HTML and LaTeX"),
        "oversized.bmp": lambda: Item("oversized.bmp", oversized_bmp(20.5), "image",
                                      r"oversized\.bmp is 20\.\d MB; the limit for an image "
                                      r"is 20 MB", "a file over the image size limit"),
        "polyglot.png": lambda: Item("polyglot.png", polyglot(), "image", None,
                                     "a valid PNG with a zip archive appended"),
        "jpeg-named.png": lambda: Item("jpeg-named.png", noisy(fmt="JPEG"), "image", None,
                                       "a JPEG with a .png name"),
        "animated.gif": lambda: Item("animated.gif", animated_gif(), "image", None,
                                     "an animated GIF (the first frame is used)"),
        "flat-6300.png": lambda: Item("flat-6300.png", flat_png(6300), "image", None,
                                      "40 Mpx of one colour in 130 kB"),
        # labels files for the bundled model (10 classes)
        "deep.json": lambda: Item("deep.json", b"[" * 100_000 + b"]" * 100_000, "labels",
                                  r"labels file deep\.json nests JSON too deeply",
                                  "JSON nested 100,000 deep"),
        "eleven.txt": lambda: Item("eleven.txt", "\n".join(f"c{i}" for i in range(11)).encode(),
                                   "labels", r"eleven\.txt has 11 labels but the model has 10 "
                                   "classes", "one label too many"),
        "big-labels.txt": lambda: Item("big-labels.txt", b"label\n" * 200_000, "labels",
                                       r"big-labels\.txt is 1,200,000 bytes; the limit is "
                                       r"1,000,000 bytes", "a labels file over the limit"),
        "long-number.json": lambda: Item("long-number.json", b"[" + b"7" * 5000 + b"]", "labels",
                                         r"labels file long-number\.json holds a number too "
                                         "long to read", "a JSON number of 5,000 digits"),
        "binary.txt": lambda: Item("binary.txt", b"\xff\xfe\x00" + rng.bytes(300), "labels",
                                   r"binary\.txt is not UTF-8 text", "binary data"),
        "keys.json": lambda: Item("keys.json", b'{"cat": "dog"}', "labels",
                                  r"keys\.json has the key 'cat', not a class index",
                                  "a mapping that is not from class indices"),
        "long-label.txt": lambda: Item("long-label.txt",
                                       ("x" * 5000 + "\n" + "\n".join("abcdefghi")).encode(),
                                       "labels", r"long-label\.txt has a label of 5,000 "
                                       r"characters; the limit is 200", "a 5,000-character label"),
        "markup-labels.txt": lambda: Item("markup-labels.txt", "\n".join(MARKUP_LABELS).encode(),
                                          "labels", None,
                                          "labels made of HTML, Markdown and LaTeX"),
        # weights for the bundled architecture
        "pickle-reduce.pt": lambda: Item("pickle-reduce.pt",
                                         torch_saved({"weight": RunsCommand(marker)}),
                                         "state-dict", r"pickle-reduce\.pt holds pickled "
                                         "Python objects", "torch.save of an object whose "
                                         "unpickling runs a command"),
        "pickle-plain.pth": lambda: Item("pickle-plain.pth", pickle.dumps(RunsCommand(marker)),
                                         "state-dict", r"pickle-plain\.pth holds pickled "
                                         "Python objects", "a plain pickle that runs a command"),
        "random.pt": lambda: Item("random.pt", rng.bytes(5000), "state-dict",
                                  r"random\.pt is not a model file PyTorch can read",
                                  "random bytes (not to be called a pickle)"),
        "wrong-keys.pt": lambda: Item("wrong-keys.pt", torch_saved({"fc.weight": torch.zeros(2)}),
                                      "state-dict", r"the weights in wrong-keys\.pt do not fit",
                                      "a state dict of another network"),
        "bad-header.safetensors": lambda: Item(
            "bad-header.safetensors", struct.pack("<Q", 1 << 40) + b'{"a":', "state-dict",
            r"bad-header\.safetensors is not a readable safetensors file",
            "a safetensors header that claims to be 1 TB"),
        "lying.safetensors": lambda: Item(
            "lying.safetensors", safetensors_header(
                b'{"w":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,40000000000]}}',
                bytes(64)), "state-dict", r"lying\.safetensors is not a readable safetensors",
            "a safetensors file declaring a 40 GB tensor it does not hold"),
        "zip-bomb.pt": lambda: Item("zip-bomb.pt", zip_bomb_state(), "state-dict",
                                    r"zip-bomb\.pt would inflate from 1\.\d MB to 2\d\d\.\d MB",
                                    "real weights with 200 MB of zeros compressed alongside"),
        "deflate-bomb.pt": lambda: Item("deflate-bomb.pt", deflate_bomb_state(), "state-dict",
                                        r"deflate-bomb\.pt would inflate from 1\.\d MB to "
                                        r"20\d\.\d MB", "a state dict with a 200 MB tensor of "
                                        "zeros, its entries deflated to 1.5 MB"),
        "many-tensors.pt": lambda: Item("many-tensors.pt", torch_saved(many_tensors()), "state-dict",
                                        r"many-tensors\.pt holds 5\d\d entries; the "
                                        r"architecture's weights \(\d+ tensors\) take at most",
                                        "hundreds of tiny tensors beside the real weights"),
        "many-tensors.safetensors": lambda: Item(
            "many-tensors.safetensors", safetensors_bytes(many_tensors()), "state-dict",
            r"many-tensors\.safetensors lists 5\d\d tensors; the architecture's weights are \d+",
            "hundreds of tiny tensors beside the real weights, as safetensors"),
        "nan-weights.pt": lambda: Item("nan-weights.pt", torch_saved(non_finite_state(float("nan"))),
                                       "state-dict", r"the weights in nan-weights\.pt hold NaN or "
                                       r"infinite values \(in 0\.weight\)",
                                       "weights of the right shapes with a NaN"),
        "inf-weights.safetensors": lambda: Item(
            "inf-weights.safetensors", safetensors_bytes(non_finite_state(float("inf"))),
            "state-dict", r"the weights in inf-weights\.safetensors hold NaN or infinite values",
            "safetensors weights with an infinity"),
        "torchscript-as-weights.pt": lambda: Item(
            "torchscript-as-weights.pt", torchscript(StealInForward(secret)), "state-dict",
            r"torchscript-as-weights\.pt is a TorchScript file \(a model with its code\), not "
            "a state dict", "TorchScript uploaded where weights are expected"),
        "oversized.pt": lambda: Item("oversized.pt", bytes(int((limit + 0.5) * 1_000_000)),
                                     "state-dict", rf"oversized\.pt is {limit + 0.5:.1f} MB; "
                                     rf"the limit for a model file is {limit} MB",
                                     "a file over the model size limit"),
        # TorchScript (allowed: the test server listens on 127.0.0.1)
        "steal-in-forward.pt": lambda: Item(
            "steal-in-forward.pt", torchscript(StealInForward(secret)), "torchscript",
            r"raised .*its message is not shown", "forward reads a server file and raises it"),
        "steal-while-loading.pt": lambda: Item(
            "steal-while-loading.pt", torchscript(StealWhileLoading(secret)), "torchscript",
            r"steal-while-loading\.pt could not be loaded as TorchScript",
            "__setstate__ reads a server file while loading and raises it"),
        "forever.pt": lambda: Item("forever.pt", torchscript(Forever()), "torchscript",
                                   r"forever\.pt did not finish loading and one probe batch",
                                   "a forward pass that never returns"),
        "tuple.pt": lambda: Item("tuple.pt", torchscript(ReturnsTuple()), "torchscript",
                                 r"returned a tuple of 2 items", "returns a tuple"),
        "flat.pt": lambda: Item("flat.pt", torchscript(ReturnsFlat()), "torchscript",
                                r"returned a tensor of shape \(2,\)", "returns (N,)"),
        "pickle-as-torchscript.pt": lambda: Item(
            "pickle-as-torchscript.pt", torch_saved({"weight": RunsCommand(marker)}),
            "torchscript", r"pickle-as-torchscript\.pt holds pickled Python objects",
            "a command-running pickle offered as TorchScript"),
    }


NAMES = tuple(_items(Context(Path("/nonexistent"), Path("/nonexistent"), 1)))


def item(name: str, context: Context) -> Item:
    """The corpus item `name`, generated now."""
    return _items(context)[name]()


def corpus(context: Context) -> list[Item]:
    return [make() for make in _items(context).values()]
