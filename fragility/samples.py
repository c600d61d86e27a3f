"""The sample images in fragility/assets/images/ (package data): photos (ImageNet models)
and generated shapes with object masks (the bundled model). samples.json is their index.

    python -m fragility.samples      rewrites the generated shape samples and the index
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from .errors import InputError
from .images import load_image
from .synthetic import CLASS_NAMES, make_dataset

IMAGES = Path(__file__).resolve().parent / "assets" / "images"   # package data
INDEX = IMAGES / "samples.json"
KINDS = ("photo", "synthetic")
SAMPLE_SEED = 2024  # the generated samples' seed; training never draws from it


@dataclass(frozen=True)
class Sample:
    """One sample image; `mask_path` marks the object's pixels (generated samples only)."""

    name: str
    path: Path
    kind: str
    label: str | None
    mask_path: Path | None
    title: str

    def load(self, size: int | None = None) -> torch.Tensor:
        """The image as (3,H,W) float32 in [0,1], resized like load_image when size is given."""
        return load_image(_existing(self.path), size=size)

    def load_mask(self, size: int | None = None) -> torch.Tensor | None:
        """The object mask as (H,W) bool, resized and cropped like load(size); None if absent."""
        if self.mask_path is None:
            return None
        mask = load_image(_existing(self.mask_path))[:1]
        if size is not None:
            mask = TF.center_crop(TF.resize(mask, size, interpolation=TF.InterpolationMode.NEAREST),
                                  [size, size])
        return mask[0] > 0.5


def samples(kind: str | None = None) -> list[Sample]:
    """The sample images, all or of one kind ("photo" or "synthetic")."""
    if kind is not None and kind not in KINDS:
        from .errors import unknown_name
        raise unknown_name("sample kind", kind, list(KINDS))
    entries = json.loads(_existing(INDEX).read_text())
    found = [Sample(name=entry["name"], path=IMAGES / entry["file"], kind=entry["kind"],
                    label=entry.get("label"),
                    mask_path=IMAGES / entry["mask"] if entry.get("mask") else None,
                    title=entry["title"])
             for entry in entries]
    return [sample for sample in found if kind is None or sample.kind == kind]


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"the sample file {path} is missing; reinstall fragility (pip install "
                         "--force-reinstall fragility; in a source checkout: git checkout -- "
                         "fragility/assets)")
    return path


def get_sample(name: str) -> Sample:
    """The sample called `name`."""
    for sample in samples():
        if sample.name == name:
            return sample
    raise InputError(f"no sample named {name!r}; choose one of: "
                     f"{', '.join(sample.name for sample in samples())}")


def write_synthetic_samples(folder: Path = IMAGES, per_class: int = 2, seed: int = SAMPLE_SEED
                            ) -> list[dict]:
    """Render `per_class` shapes of every class with their masks as PNG; update the index."""
    images, labels, masks = make_dataset(per_class * len(CLASS_NAMES) * 2, seed)
    folder.mkdir(parents=True, exist_ok=True)
    entries, count = [], {name: 0 for name in CLASS_NAMES}
    for image, label, mask in zip(images, labels.tolist(), masks):
        name = CLASS_NAMES[label]
        if count[name] == per_class:
            continue
        count[name] += 1
        stem = f"shape_{name}_{count[name]}"
        pixels = (image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"{stem}.png")
        Image.fromarray(mask.numpy().astype("uint8") * 255).save(folder / f"{stem}_mask.png")
        entries.append({"name": stem, "file": f"{stem}.png", "kind": "synthetic", "label": name,
                        "mask": f"{stem}_mask.png", "title": f"Generated {name} #{count[name]}"})
    entries.sort(key=lambda entry: (CLASS_NAMES.index(entry["label"]), entry["name"]))
    index = folder / INDEX.name
    kept = [entry for entry in json.loads(index.read_text()) if entry["kind"] != "synthetic"] \
        if index.exists() else []
    index.write_text(json.dumps(kept + entries, indent=1) + "\n")
    return entries


if __name__ == "__main__":
    write_synthetic_samples()
