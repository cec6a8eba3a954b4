"""A procedurally drawn happy/sad faces dataset, for trying and testing with no network.

``make_synth(out)`` writes ``out/happy/*.png`` and ``out/sad/*.png``: the same layout as
the lab's dataset, so every command that takes ``--data`` takes it. The faces are drawn
with Pillow: a round face of a random colour on a random background (or a transparent
one, like the real data), two eyes, maybe brows, a nose and cheeks, and a mouth. Position,
size, colours, eye size/shape/spacing, mouth width/thickness/style, a slight rotation, blur
and pixel noise all vary; none of them depends on the class.

The class is the mouth's curve and nothing else: a smile (corners up) or a frown (corners
down). ``draw_face`` consumes its random numbers identically for both classes, so a happy
and a sad face drawn from the same generator state differ only around the mouth, and the
curve is centred so that the mouth's mean height does not give the class away either.

Everything is deterministic given the seed: image ``i`` of a class is drawn from its own
generator seeded with ``(seed, class, i)``, so the same seed gives byte-identical files and
a larger ``per_class`` extends a smaller set rather than reshuffling it.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import colorsys
import json
import math
import operator
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

from .errors import ConfigError, DataError

CLASSES = ("happy", "sad")
MARKER = ".complete"
#: Bumped when the drawing changes; recorded in the marker for information only.
SYNTH_VERSION = 1
MAX_PER_CLASS = 100_000
MIN_SIZE, MAX_SIZE = 16, 1024


# --------------------------------------------------------------------------- drawing


def _hsv(h: float, s: float, v: float, a: int = 255) -> tuple[int, int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255)), a


def _params(rng: np.random.Generator) -> dict:
    """Every random choice of one face, drawn in a fixed order whatever the class.

    Lengths are fractions of the canvas (``W``) or of the face radius (``r``).
    """
    u = rng.uniform
    p = {}
    p["rgba"] = u() < 0.5
    # face
    p["r"] = u(0.32, 0.44)                      # of W
    p["cx"], p["cy"] = u(-0.35, 0.35), u(-0.35, 0.35)  # of the room left around the face
    p["rx"], p["ry"] = u(0.9, 1.1), u(0.9, 1.1)  # of r
    yellow = u() < 0.6
    hue = u(0.11, 0.17) if yellow else u(0, 1)
    p["face"] = _hsv(hue, u(0.55, 1.0) if yellow else u(0.15, 0.8), u(0.75, 1.0))
    p["highlight"] = u() < 0.5
    p["hl_alpha"] = int(u(40, 110))
    p["outline"] = u() < 0.5
    p["outline_w"] = u(0.015, 0.045)            # of r
    ink_hue = u(0, 1)
    p["ink"] = _hsv(ink_hue, u(0, 0.8), u(0.0, 0.3))
    # eyes
    p["eye_y"] = u(0.12, 0.38)                  # above the centre, of ry
    p["eye_dx"] = u(0.25, 0.45)                 # of rx
    p["eye_w"] = u(0.07, 0.16)                  # of r
    p["eye_aspect"] = u(0.75, 1.7)
    p["eye_style"] = int(rng.integers(0, 3))    # 0 dot, 1 white + pupil, 2 ring
    p["pupil"] = u(0.35, 0.65)                  # of the eye
    p["gaze"] = (u(-0.4, 0.4), u(-0.4, 0.4))    # of the eye
    p["eye_jitter"] = tuple(u(-0.03, 0.03) for _ in range(4))  # of r
    # brows: tilt in either direction, unrelated to the class
    p["brows"] = u() < 0.5
    p["brow_gap"] = u(0.06, 0.16)               # of r
    p["brow_len"] = u(1.3, 2.2)                 # of eye width
    p["brow_tilt"] = u(-22, 22)                 # degrees
    p["brow_w"] = u(0.025, 0.06)                # of r
    # nose and cheeks
    p["nose"] = u() < 0.35
    p["nose_w"] = u(0.04, 0.09)                 # of r
    p["nose_y"] = u(0.0, 0.12)                  # of ry
    p["cheeks"] = u() < 0.25
    p["cheek_alpha"] = int(u(50, 120))
    # mouth: everything but the sign of the curve
    p["mouth_y"] = u(0.3, 0.5)                 # below the centre, of ry
    p["mouth_x"] = u(-0.06, 0.06)               # of rx
    p["mouth_w"] = u(0.55, 0.95)                  # of rx, full width
    p["depth"] = u(0.2, 0.36)                  # sag, of the mouth width
    p["skew"] = u(-0.06, 0.06)                  # corner height difference, of the width
    p["mouth_t"] = u(0.05, 0.1)               # line thickness, of r
    p["open"] = u() < 0.3                       # a filled, open mouth
    p["open_flat"] = u(0.0, 0.45)               # how flat the open mouth's other edge is
    p["lip"] = _hsv(u(-0.03, 0.03), u(0.5, 0.9), u(0.35, 0.7))
    # background (RGB images) or shadow (both)
    p["bg_a"] = _hsv(u(0, 1), u(0, 0.6), u(0.3, 1.0))
    p["bg_b"] = _hsv(u(0, 1), u(0, 0.6), u(0.3, 1.0))
    p["gradient"] = u() < 0.5
    p["blobs"] = [(u(0, 1), u(0, 1), u(0.05, 0.2), _hsv(u(0, 1), u(0, 0.5), u(0.4, 1.0)))
                  for _ in range(int(rng.integers(0, 3)))]
    p["shadow"] = u() < 0.5
    p["shadow_alpha"] = int(u(40, 110))
    # whole image
    p["angle"] = u(-10, 10)
    p["blur"] = u(0.0, 1.0) if u() < 0.3 else 0.0  # in output pixels
    p["noise"] = u(0.0, 8.0)
    return p


def _mouth_curve(u: np.ndarray, a: float = 1.0, c: float = 2 / 3) -> np.ndarray:
    """The mouth's shape: 0 at the corners, ``a`` in the middle, less ``c`` (its mean)."""
    return a * (1.0 - u * u) - c


def _draw_mouth(draw, p: dict, cx: float, my: float, r: float, rx: float, happy: bool) -> None:
    sign = 1.0 if happy else -1.0  # image y grows downwards: a smile sags in the middle
    half = p["mouth_w"] * rx / 2
    depth = p["depth"] * 2 * half
    u = np.linspace(-1.0, 1.0, 41)
    xs = cx + u * half
    tilt = p["skew"] * 2 * half * u
    thick = max(1.0, p["mouth_t"] * r)
    if p["open"]:
        # a crescent between a deep curve and a flatter one, centred on its area
        a = p["open_flat"]
        c = 0.4 * (1 + a)
        deep = my + tilt + sign * depth * _mouth_curve(u, 1.0, c)
        flat = my + tilt + sign * depth * _mouth_curve(u, a, c)
        outline = list(zip(xs, deep)) + list(zip(xs[::-1], flat[::-1]))
        draw.polygon(outline, fill=p["lip"], outline=p["ink"], width=max(1, int(thick * 0.6)))
    else:
        ys = my + tilt + sign * depth * _mouth_curve(u)
        points = list(zip(xs, ys))
        draw.line(points, fill=p["ink"], width=int(round(thick)), joint="curve")
        for x, y in (points[0], points[-1]):  # round ends
            draw.ellipse((x - thick / 2, y - thick / 2, x + thick / 2, y + thick / 2), fill=p["ink"])


def _draw_eye(draw, p: dict, x: float, y: float, r: float) -> None:
    w = p["eye_w"] * r
    h = w * p["eye_aspect"]
    box = (x - w, y - h, x + w, y + h)
    ink = p["ink"]
    style = p["eye_style"]
    if style == 0:
        draw.ellipse(box, fill=ink)
        return
    line = max(1, int(round(w * 0.18)))
    draw.ellipse(box, fill=(255, 255, 255, 255) if style == 1 else None, outline=ink, width=line)
    if style == 1:
        pw, ph = w * p["pupil"], h * p["pupil"]
        gx = x + p["gaze"][0] * (w - pw)
        gy = y + p["gaze"][1] * (h - ph)
        draw.ellipse((gx - pw, gy - ph, gx + pw, gy + ph), fill=ink)


def draw_face(rng: np.random.Generator, happy: bool, size: int = 150):
    """Draw one face: a smile if ``happy``, else a frown.

    Args:
        rng: the generator every random choice comes from. It is advanced by the same
            amount for both classes, so twin generators give faces that differ only in
            the mouth's curve.
        happy: smile (True) or frown (False).
        size: the image is ``size`` x ``size`` pixels.

    Returns:
        A PIL image, mode ``"RGBA"`` (transparent background, about half the time) or
        ``"RGB"`` (a solid or graded background with a few blobs).
    """
    from PIL import Image, ImageDraw, ImageFilter

    p = _params(rng)
    noise = rng.standard_normal((size, size, 3))  # drawn now: same rng use for every face

    scale = 4 if size <= 256 else 2  # draw large, then shrink: smooth edges
    W = size * scale
    r = p["r"] * W
    rx, ry = r * p["rx"], r * p["ry"]
    room_x, room_y = max(0.0, W / 2 - rx * 0.95), max(0.0, W / 2 - ry * 0.95)
    cx, cy = W / 2 + p["cx"] * room_x, W / 2 + p["cy"] * room_y

    # -- the face, on its own transparent layer (rotated later)
    face = Image.new("RGBA", (W, W), (0, 0, 0, 0))
    draw = ImageDraw.Draw(face)
    ink = p["ink"]
    outline_w = max(1, int(round(p["outline_w"] * r))) if p["outline"] else 0
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=p["face"],
                 outline=ink if outline_w else None, width=outline_w or 1)
    if p["highlight"]:
        hx, hy = cx - rx * 0.3, cy - ry * 0.35
        _soft_ellipse(face, (hx - rx * 0.45, hy - ry * 0.3, hx + rx * 0.45, hy + ry * 0.3),
                      (255, 255, 255, p["hl_alpha"]), r * 0.12, clip=True)
    if p["cheeks"]:
        for side in (-1, 1):
            bx, by = cx + side * rx * 0.55, cy + ry * 0.18
            _soft_ellipse(face, (bx - r * 0.16, by - r * 0.1, bx + r * 0.16, by + r * 0.1),
                          (235, 90, 110, p["cheek_alpha"]), r * 0.04, clip=True)

    eye_y = cy - p["eye_y"] * ry
    jit = [j * r for j in p["eye_jitter"]]
    for side, (jx, jy) in ((-1, jit[:2]), (1, jit[2:])):
        ex, ey = cx + side * p["eye_dx"] * rx + jx, eye_y + jy
        _draw_eye(draw, p, ex, ey, r)
        if p["brows"]:
            length = p["brow_len"] * p["eye_w"] * r
            by = ey - p["eye_w"] * p["eye_aspect"] * r - p["brow_gap"] * r
            # positive tilt raises the inner end on both sides
            dy = math.tan(math.radians(p["brow_tilt"])) * length / 2
            draw.line(((ex - length / 2, by - side * dy), (ex + length / 2, by + side * dy)),
                      fill=ink, width=max(1, int(round(p["brow_w"] * r))))
    if p["nose"]:
        nw = p["nose_w"] * r
        ny = cy + p["nose_y"] * ry
        draw.ellipse((cx - nw, ny - nw * 0.7, cx + nw, ny + nw * 0.7),
                     fill=_shade(p["face"], 0.8))

    _draw_mouth(draw, p, cx + p["mouth_x"] * rx, cy + p["mouth_y"] * ry, r, rx, happy)

    # nearest-neighbour is enough here: the shrink below averages scale x scale samples
    face = face.rotate(p["angle"], resample=Image.Resampling.NEAREST, center=(cx, cy))

    # -- background: a shadow under the face; colour and blobs for RGB images
    if p["rgba"]:
        back = Image.new("RGBA", (W, W), (0, 0, 0, 0))
    elif p["gradient"]:
        ramp = np.linspace(0.0, 1.0, W)[:, None]
        a, b = np.array(p["bg_a"][:3], float), np.array(p["bg_b"][:3], float)
        column = (a + (b - a) * ramp).round().astype(np.uint8)[:, None, :]
        back = Image.fromarray(np.ascontiguousarray(np.broadcast_to(column, (W, W, 3))), "RGB")
        back = back.convert("RGBA")
    else:
        back = Image.new("RGBA", (W, W), p["bg_a"])
    if not p["rgba"]:
        bd = ImageDraw.Draw(back)
        for bx, by, br, colour in p["blobs"]:
            bd.ellipse(((bx - br) * W, (by - br) * W, (bx + br) * W, (by + br) * W), fill=colour)
    if p["shadow"]:
        sy = cy + ry * 0.95
        _soft_ellipse(back, (cx - rx * 0.9, sy - ry * 0.12, cx + rx * 0.9, sy + ry * 0.12),
                      (0, 0, 0, p["shadow_alpha"]), r * 0.08)
    back.alpha_composite(face)

    image = back.resize((size, size), Image.Resampling.BOX)
    if p["blur"] > 0:
        image = image.filter(ImageFilter.GaussianBlur(p["blur"]))

    # -- pixel noise on the visible pixels; transparent ones stay (0, 0, 0, 0)
    pixels = np.asarray(image, dtype=np.float64).copy()
    pixels[..., :3] += noise * p["noise"]
    pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    if p["rgba"]:
        pixels[pixels[..., 3] == 0] = 0
        return Image.fromarray(pixels, "RGBA")
    return Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB")


def _soft_ellipse(canvas, box, fill, radius: float, clip: bool = False) -> None:
    """Composite a blurred ellipse onto ``canvas``; blurs only the ellipse's neighbourhood.

    With ``clip``, the ellipse is kept inside the canvas's own opaque pixels.
    """
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    margin = 3 * radius
    W, H = canvas.size
    left, top = max(0, int(box[0] - margin)), max(0, int(box[1] - margin))
    right, bottom = min(W, int(math.ceil(box[2] + margin))), min(H, int(math.ceil(box[3] + margin)))
    if right <= left or bottom <= top:
        return
    layer = Image.new("RGBA", (right - left, bottom - top), fill[:3] + (0,))
    ImageDraw.Draw(layer).ellipse(
        (box[0] - left, box[1] - top, box[2] - left, box[3] - top), fill=fill)
    layer = layer.filter(ImageFilter.GaussianBlur(radius))
    if clip:
        mask = canvas.getchannel("A").crop((left, top, right, bottom))
        layer.putalpha(ImageChops.multiply(layer.getchannel("A"), mask))
    canvas.alpha_composite(layer, dest=(left, top))


def _shade(colour: tuple[int, int, int, int], k: float) -> tuple[int, int, int, int]:
    return tuple(int(c * k) for c in colour[:3]) + (colour[3],)


# --------------------------------------------------------------------------- datasets


def _whole(value, name: str, low: int, high: int | None, what: str) -> int:
    try:
        number = operator.index(value)  # ints and numpy ints; not floats, strings or bools
    except TypeError:
        number = None
    if number is None or isinstance(value, bool) or number < low or (high is not None and number > high):
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{name} ({what}) must be a whole number {span}, got {value!r}")
    return number


def _check(per_class, seed, size) -> tuple[int, int, int]:
    return (_whole(per_class, "per_class", 1, MAX_PER_CLASS, "images per class"),
            _whole(seed, "seed", 0, None, "the random seed"),
            _whole(size, "size", MIN_SIZE, MAX_SIZE, "image width and height in pixels"))


def _marker_text(per_class: int, seed: int, size: int) -> str:
    return json.dumps({"per_class": per_class, "seed": seed, "size": size,
                       "classes": list(CLASSES), "version": SYNTH_VERSION}, sort_keys=True) + "\n"


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _refuse(out: Path) -> DataError:
    return DataError(f"{out} exists and is not empty; choose a new folder")


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out``; raises OSError if ``out`` is taken."""
    try:
        os.rename(tmp, out)  # POSIX: also replaces an empty folder, atomically
    except OSError:
        if not _is_empty_dir(out):
            raise
        out.rmdir()  # an empty folder that the rename could not replace (Windows)
        os.rename(tmp, out)


def make_synth(out: Path, per_class: int = 40, seed: int = 0, size: int = 150) -> Path:
    """Draw ``per_class`` happy and ``per_class`` sad faces into ``out/happy``, ``out/sad``.

    The images are written into a temporary folder next to ``out``, then renamed into
    place, so an interrupted run never leaves a half dataset. ``out/.complete`` (the
    parameters, as JSON) is written last. Nothing is ever overwritten.

    Args:
        out: the dataset folder to create; it must not exist or be empty.
        per_class: images per class, 1 to 100000.
        seed: the same seed gives byte-identical files.
        size: width and height in pixels, 16 to 1024.

    Returns:
        ``out``.

    Raises:
        ConfigError: a bad ``per_class``, ``seed`` or ``size``.
        DataError: ``out`` exists and is not empty (or is a file).

    Example:
        >>> make_synth(Path("faces"), per_class=10)            # doctest: +SKIP
        PosixPath('faces')
    """
    per_class, seed, size = _check(per_class, seed, size)
    out = Path(out)
    if out.is_file() or (out.is_symlink() and not out.is_dir()):
        raise DataError(f"{out} exists and is not a folder; choose a new folder")
    if out.exists() and not _is_empty_dir(out):
        raise _refuse(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a hidden sibling on the same file system, so the final rename is atomic
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # (not mkdtemp: its 0700 mode would stick to the published folder)
    try:
        _write_images(tmp, per_class, seed, size)
        (tmp / MARKER).write_text(_marker_text(per_class, seed, size), encoding="utf-8")
        try:
            _publish(tmp, out)
        except OSError:
            raise _refuse(out) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_images(root: Path, per_class: int, seed: int, size: int) -> None:
    width = len(str(MAX_PER_CLASS - 1))
    for label, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir()
        for i in range(per_class):
            rng = np.random.default_rng([seed, label, i])
            image = draw_face(rng, happy=(name == "happy"), size=size)
            image.save(folder / f"{name}-{i:0{width}d}.png", format="PNG")


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _complete(folder: Path, per_class: int, seed: int, size: int) -> bool:
    """Whether ``folder`` holds the finished set with these parameters.

    Raises:
        DataError: it holds a finished set made with other parameters, or one that was
            changed since (images missing or added).
    """
    marker = _read_marker(folder)
    if marker is None:
        return False
    wanted = {"per_class": per_class, "seed": seed, "size": size}
    found = {k: marker.get(k) for k in wanted}
    if found != wanted:
        made = ", ".join(f"{k}={v}" for k, v in found.items())
        raise DataError(
            f"{folder} holds a synth dataset made with {made}, not "
            f"{', '.join(f'{k}={v}' for k, v in wanted.items())}; remove it or choose another folder"
        )
    counts = {name: sum(1 for _ in (folder / name).glob("*.png")) if (folder / name).is_dir() else 0
              for name in CLASSES}
    if any(n != per_class for n in counts.values()):
        raise DataError(
            f"synth dataset {folder} was changed since it was made "
            f"({', '.join(f'{k}: {v}' for k, v in counts.items())} images, expected {per_class} each); "
            "remove it to have it drawn again"
        )
    return True


def ensure_synth(folder: Path, per_class: int = 40, seed: int = 0, size: int = 150) -> Path:
    """Return ``folder`` holding the synth dataset, drawing it first if it is not there.

    A folder whose ``.complete`` marker records the same parameters is reused as it is.
    If two processes race, each draws into its own temporary folder and only one rename
    wins; the other discards its copy and uses the winner's.

    Raises:
        ConfigError: bad parameters.
        DataError: ``folder`` holds something else (other files, or a set made with other
            parameters).
    """
    per_class, seed, size = _check(per_class, seed, size)
    folder = Path(folder)
    if _complete(folder, per_class, seed, size):
        return folder
    try:
        return make_synth(folder, per_class, seed, size)
    except DataError:
        if _complete(folder, per_class, seed, size):  # another process got there first
            return folder
        raise


def class_counts(folder: Path) -> dict[str, int]:
    """PNG files per class folder of a synth dataset."""
    folder = Path(folder)
    return {name: sum(1 for _ in (folder / name).glob("*.png")) for name in CLASSES}
