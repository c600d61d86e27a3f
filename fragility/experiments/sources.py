"""Where a sweep's images come from: a folder, `synthetic:N`, `samples`, or a tensor.

A source lists its images (an id, and a class where it knows one) up front and loads them
in chunks, so that memory holds one shard's images at a time. File images are read once
when the source is made; those that fail are left out with a warning and listed in
`skipped` (the sweep records them with its results). Masks (optional) mark the object's
pixels; the sweep measures how much saliency stays on it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ConfigError, InputError
from ..samples import Sample, samples
from ..synthetic import CLASS_NAMES, make_dataset
from ..training import EVAL_SEED
from ..validation import check_images

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MASK_SUFFIX = "_mask"       # shape_star_1_mask.png is the mask of shape_star_1.png
SYNTHETIC_SIZE = 64         # generated images' size for a model that declares none
# Generated images come in blocks of one image per class, block b from seed
# SYNTHETIC_SEED + b: seeds the bundled model's training never draws from (they lie above
# its evaluation seed), and `synthetic:64` is the first 64 images of `synthetic:128`.
SYNTHETIC_SEED = EVAL_SEED + 1
SAMPLE_KINDS = {"synthetic": "synthetic", "imagenet": "photo"}   # model domain -> samples
SHOWN_FAILURES = 3          # failures named in the warning (all are in `skipped`)


@dataclass
class Batch:
    """Loaded images of one shard: ids, (n,3,H,W) images, and per image its mask (H,W) and
    class, each None where unknown."""
    ids: list[str]
    images: torch.Tensor
    masks: list[torch.Tensor | None]
    classes: list[str | None]


@dataclass
class ImageSource:
    """The images of a sweep: `ids` in order, their classes where known, and a loader."""
    description: str
    ids: list[str]
    classes: dict[str, str | None]
    skipped: list[dict] = field(default_factory=list)   # {"image_id", "reason"}

    def load(self, ids: list[str]) -> Batch:
        raise NotImplementedError

    def _fail(self, image_id: str, error: Exception) -> None:
        self.skipped.append({"image_id": image_id, "reason": str(error)})


def image_source(images: object, size: int | None, domain: str | None = None) -> ImageSource:
    """The source named by `images`: a folder, "synthetic:N", "samples" or a tensor.

    size: load file images resized to size x size (the model's input size); domain: the
    model's ("synthetic" or "imagenet"), which picks the sample images that suit it.
    """
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, torch.Tensor):
        return TensorSource(images)
    if isinstance(images, (str, Path)):
        text = str(images)
        if text.startswith("synthetic:"):
            return SyntheticSource(_count(text), size or SYNTHETIC_SIZE)
        if text == "samples":
            return FileSource("samples", samples(SAMPLE_KINDS.get(domain)), size)
        folder = Path(text).expanduser()
        if folder.is_dir():
            return FileSource(str(folder), _folder_files(folder), size)
        raise InputError(f"no such folder: {text}; images must be a folder, synthetic:N, samples "
                         "or a tensor (N,3,H,W)")
    raise InputError(f"images must be a folder, 'synthetic:N', 'samples' or a tensor (N,3,H,W), "
                     f"got a {type(images).__name__}")


def _count(text: str) -> int:
    number = text.partition(":")[2]
    if not number.isdigit() or int(number) < 1:
        raise ConfigError(f"{text!r}: write synthetic:N with N a whole number >= 1, e.g. synthetic:64")
    return int(number)


class TensorSource(ImageSource):
    """Images given as a tensor (N,3,H,W) or (3,H,W); ids image-00000, image-00001, ..."""

    def __init__(self, images: torch.Tensor):
        self.tensor = check_images(images).detach()
        ids = [f"image-{index:05d}" for index in range(self.tensor.shape[0])]
        super().__init__(f"tensor {tuple(self.tensor.shape)}", ids, dict.fromkeys(ids))
        self._index = {image_id: index for index, image_id in enumerate(ids)}

    def load(self, ids: list[str]) -> Batch:
        rows = [self._index[image_id] for image_id in ids]
        return Batch(list(ids), self.tensor[rows], [None] * len(ids), [None] * len(ids))


class SyntheticSource(ImageSource):
    """The first `count` generated images (fragility.synthetic), with their object masks."""

    BLOCK = len(CLASS_NAMES)

    def __init__(self, count: int, size: int):
        self.size = size
        labels = []
        for block in range(-(-count // self.BLOCK)):
            labels.extend(self._block(block)[1].tolist())
        ids = [f"synthetic-{index:05d}" for index in range(count)]
        super().__init__(f"synthetic:{count}", ids,
                         {image_id: CLASS_NAMES[label] for image_id, label in zip(ids, labels)})

    def _block(self, block: int):
        return make_dataset(self.BLOCK, SYNTHETIC_SEED + block, self.size)

    def load(self, ids: list[str]) -> Batch:
        indices = [int(image_id.rpartition("-")[2]) for image_id in ids]
        blocks = {block: self._block(block) for block in {index // self.BLOCK for index in indices}}
        images, masks = [], []
        for index in indices:
            block_images, _, block_masks = blocks[index // self.BLOCK]
            images.append(block_images[index % self.BLOCK])
            masks.append(block_masks[index % self.BLOCK])
        return Batch(list(ids), torch.stack(images), masks, [self.classes[image_id] for image_id in ids])


class FileSource(ImageSource):
    """Image files (a folder, or the sample images), read once now to find unreadable ones."""

    def __init__(self, description: str, files: list[Sample], size: int | None):
        self.size = size
        self.files = {}
        super().__init__(description, [], {})
        shapes = set()
        for sample in files:
            try:
                image, _ = self._read(sample)
            except InputError as error:
                self._fail(sample.name, error)
                continue
            shapes.add(tuple(image.shape))
            self.files[sample.name] = sample
            self.ids.append(sample.name)
            self.classes[sample.name] = sample.label
        if len(shapes) > 1:
            raise ConfigError(f"the images in {description} have different sizes "
                              f"({', '.join(f'{w}x{h}' for _, h, w in sorted(shapes)[:4])}) and the "
                              "model declares no input size: give size= (fragility sweep --size) to load them at one size")
        if self.skipped:
            _warn_skipped(description, self.skipped, len(files))

    def _read(self, sample: Sample) -> tuple[torch.Tensor, torch.Tensor | None]:
        image = sample.load(self.size)
        try:
            mask = sample.load_mask(self.size)
        except InputError as error:
            raise InputError(f"its mask {sample.mask_path.name}: {error}") from None
        if mask is not None and tuple(mask.shape) != tuple(image.shape[-2:]):
            raise InputError(f"its mask {sample.mask_path.name} is {mask.shape[1]}x{mask.shape[0]}, "
                             f"the image {image.shape[2]}x{image.shape[1]}")
        return image, mask

    def load(self, ids: list[str]) -> Batch:
        kept, images, masks = [], [], []
        for image_id in ids:
            try:
                image, mask = self._read(self.files[image_id])
            except InputError as error:   # changed since the source was made
                self._fail(image_id, error)
                _warn_skipped(self.description, self.skipped[-1:], 1)
                continue
            kept.append(image_id)
            images.append(image)
            masks.append(mask)
        stacked = torch.stack(images) if images else torch.empty(0, 3, 1, 1)
        return Batch(kept, stacked, masks, [self.classes[image_id] for image_id in kept])


def _warn_skipped(description: str, skipped: list[dict], total: int) -> None:
    named = "; ".join(f"{item['image_id']}: {item['reason']}" for item in skipped[:SHOWN_FAILURES])
    more = f" (and {len(skipped) - SHOWN_FAILURES} more)" if len(skipped) > SHOWN_FAILURES else ""
    warnings.warn(f"{len(skipped)} of {total} images in {description} could not be read and are "
                  f"left out: {named}{more}", stacklevel=4)


def _folder_files(folder: Path) -> list[Sample]:
    """Images directly in `folder` (no class) and in its sub-folders (class = the sub-folder)."""
    files = []
    for directory in [folder, *sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        label = None if directory == folder else directory.name
        candidates = sorted(p for p in directory.iterdir()
                            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
        stems = {path.stem for path in candidates}
        masks = {path.stem[:-len(MASK_SUFFIX)]: path for path in candidates
                 if path.stem.endswith(MASK_SUFFIX) and path.stem[:-len(MASK_SUFFIX)] in stems}
        for path in candidates:
            if path in masks.values():
                continue   # the mask of an image beside it
            name = path.relative_to(folder).as_posix()
            files.append(Sample(name=name, path=path, kind="file", label=label,
                                mask_path=masks.get(path.stem), title=name))
    if not files:
        raise InputError(f"no images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)} files in it "
                         "and in its sub-folders)")
    return files
