"""Reading a folder of class folders into memory, once, as uint8 arrays.

Decoding is done here with Pillow (not tf.io) because Pillow reads every PNG/JPEG/GIF/BMP
flavour the datasets people bring come in (palette, 16-bit grayscale, RGBA, CMYK) and
names the file when one is broken. Each image is decoded and resized once; training then
runs from the arrays in memory. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError

log = logging.getLogger("happysad")

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
ColorMode = str  # "rgb" or "grayscale"


@dataclass
class ImageSet:
    """Images of one dataset, decoded and resized.

    Attributes:
        x: uint8 array of shape (n, size, size, channels).
        y: int array of shape (n,), the index of each image's class in ``class_names``.
        class_names: the class folder names, sorted; label i is ``class_names[i]``.
        files: the source file of each image.
        skipped_bad: corrupt images skipped (only with ``skip_bad``).
        skipped_other: files that are not images, skipped.
    """

    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    files: list[Path] = field(default_factory=list)
    skipped_bad: int = 0
    skipped_other: int = 0

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> dict[str, int]:
        """Images per class, in label order."""
        return {name: int((self.y == i).sum()) for i, name in enumerate(self.class_names)}

    def subset(self, index: np.ndarray) -> "ImageSet":
        return ImageSet(self.x[index], self.y[index], list(self.class_names),
                        [self.files[i] for i in index] if self.files else [])


def _is_ignored(name: str) -> bool:
    from .archive import is_ignored

    return is_ignored(name)


def ignored_under(root: Path, path: Path) -> bool:
    """Whether a junk or hidden name (``archive.is_ignored``) lies between root and path."""
    return any(_is_ignored(part) for part in path.relative_to(root).parts)


def to_array(image, size: int, color: ColorMode = "rgb") -> np.ndarray:
    """Convert a PIL image to a (size, size, channels) uint8 array.

    Alpha is dropped, as the lab's Keras loader did (``convert("RGB")``); palette images
    go through RGBA so that their transparency is honoured the same way; 16- and 32-bit
    grayscale is scaled to 8 bits rather than clipped.
    """
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raw = np.asarray(image, dtype=np.float64)
        raw = np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0)  # float TIFFs may hold them
        top = raw.max()
        raw = np.clip(raw / top * 255.0 if top > 0 else raw, 0.0, 255.0)
        image = Image.fromarray(raw.astype(np.uint8), mode="L")
    elif image.mode == "P":
        image = image.convert("RGBA")
    image = image.convert("L" if color == "grayscale" else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def load_image(path: str | Path, size: int, color: ColorMode = "rgb") -> np.ndarray:
    """Decode one image file to a (size, size, channels) uint8 array.

    Raises:
        DataError: the file is missing, not an image, or corrupt/truncated.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # Large but legal images load; only absurd ones (the error below) are refused.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()  # decode now: a truncated file fails here, not later
                return to_array(image, size, color)
    except FileNotFoundError:
        raise DataError(f"image {path} not found") from None
    except Image.DecompressionBombError as exc:
        raise DataError(
            f"image {path} is too large to decode safely ({exc.args[0].split('(')[1].split(')')[0]}); "
            "downscale it or remove it"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {path}: {exc}; remove or replace the file") from None


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def find_classes(root: Path) -> tuple[list[str], dict[str, list[Path]], int]:
    """List the class folders under ``root`` and their image files.

    Returns:
        (class names sorted, {class: sorted image files}, number of other entries:
        non-image files, broken links, pipes and sockets).
        Images may sit in nested folders inside a class folder; hidden and junk entries
        (``.DS_Store``, ``__MACOSX``, ``Thumbs.db``) are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder {root} not found; pass a zip or a folder of class folders")
    class_dirs = sorted(
        (p for p in root.iterdir() if p.is_dir() and not _is_ignored(p.name)),
        key=lambda p: p.name,
    )
    files: dict[str, list[Path]] = {}
    other = 0
    for class_dir in class_dirs:
        found = []
        for path in sorted(class_dir.rglob("*")):
            if ignored_under(class_dir, path) or path.is_dir():
                continue
            # Only regular files are read: a pipe would block, a broken link cannot open.
            if path.is_file() and is_image_file(path):
                found.append(path)
            else:
                other += 1
        files[class_dir.name] = found
    return [d.name for d in class_dirs], files, other


def load_images(
    source: str | Path,
    image_size: int,
    color: ColorMode = "rgb",
    skip_bad: bool = False,
    cache_dir: Path | None = None,
) -> ImageSet:
    """Load every image under a folder of class folders (or a zip of one).

    Args:
        source: a folder whose subfolders are the classes, or a zip holding one (the
            class folders may be nested a level or two down).
        image_size: images are resized to ``image_size`` x ``image_size``.
        color: ``"rgb"`` (3 channels) or ``"grayscale"`` (1 channel).
        skip_bad: skip corrupt images (counted in ``skipped_bad``) instead of failing.
        cache_dir: where a zip is extracted (default: the user cache).

    Returns:
        An ImageSet with labels in sorted class-name order.

    Raises:
        DataError: no classes, one class, an empty class, or a corrupt image.

    Example:
        >>> images = load_images("data/happy-or-sad", 150)      # doctest: +SKIP
        >>> images.class_names, images.x.shape                  # doctest: +SKIP
        (['happy', 'sad'], (80, 150, 150, 3))
    """
    from .archive import prepare_data

    if color not in ("rgb", "grayscale"):
        raise DataError(f"color must be 'rgb' or 'grayscale', got {color!r}")
    root = prepare_data(source, cache_dir)
    names, files, other = find_classes(root)
    if not names:
        raise DataError(
            f"no class folders in {root}: expected one folder per class (e.g. happy/ and sad/)"
        )
    empty = [n for n in names if not files[n]]
    if empty and all(not files[n] for n in names):
        raise DataError(
            f"no images in {root}: found class folders {', '.join(names)} but no "
            f"{'/'.join(sorted(s[1:] for s in IMAGE_SUFFIXES))} files"
            + (f" ({other} other files)" if other else "")
        )
    if empty:
        raise DataError(
            f"class folder {', '.join(empty)} in {root} has no images; add images or remove the folder"
        )
    folded: dict[str, str] = {}
    for name in names:
        if name.casefold() in folded:
            raise DataError(
                f"class folders {folded[name.casefold()]!r} and {name!r} in {root} differ only in "
                "case; merge or rename them (on many systems they are the same folder)"
            )
        folded[name.casefold()] = name
    if len(names) < 2:
        raise DataError(
            f"only one class folder ({names[0]}) in {root}; a classifier needs at least two"
        )
    if other:
        log.warning("skipped %d non-image file%s in %s", other, "s" * (other != 1), root)

    arrays, labels, kept = [], [], []
    bad = 0
    for label, name in enumerate(names):
        for path in files[name]:
            try:
                arrays.append(load_image(path, image_size, color))
            except DataError as exc:
                if not skip_bad:
                    raise DataError(f"{exc} (or pass --skip-bad-images to skip such files)") from None
                bad += 1
                continue
            labels.append(label)
            kept.append(path)
    if bad:
        log.warning("skipped %d corrupt image%s in %s", bad, "s" * (bad != 1), root)
    counts = {n: labels.count(i) for i, n in enumerate(names)}
    left_empty = [n for n, c in counts.items() if c == 0]
    if left_empty:
        raise DataError(f"class {', '.join(left_empty)} has no readable images left in {root}")
    return ImageSet(
        x=np.stack(arrays),
        y=np.asarray(labels, dtype=np.int64),
        class_names=names,
        files=kept,
        skipped_bad=bad,
        skipped_other=other,
    )
