"""Draw the illustrative images used by the Tideline example issues.

Every picture is abstract (gradients, horizons, waves, kelp and ripples) and
drawn from fixed numbers, so the script writes the same files on every run and
the example issues never depend on stock photos or network access.

Run it from anywhere; the files land in ``images/`` beside this script::

    python examples/make_images.py
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT_DIR = Path(__file__).resolve().parent / "images"

# Shapes are drawn at twice the size and scaled down, which smooths the edges.
SCALE = 2
JPEG_OPTIONS = {"quality": 70, "optimize": True}

# At least twice the largest size each is shown at (552 px in the email's
# column, the logo at 200 px), so they stay sharp on retina screens, and at
# most 1200 px wide: `check` warns outside that (image-soft, image-wide). The
# site serves copies resized to what each place needs.
LEAD = (1200, 675)
DIVE = (1104, 736)
VIDEO = (1104, 621)
LOGO = (400, 100)

# The desk's brand and accent colours, as in newsletter.yaml.
BRAND = "#0b4f6c"
ACCENT = "#e0a458"

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]
Point = tuple[float, float]


def rgb(value: str) -> RGB:
    """Turn ``#rrggbb`` into an RGB tuple."""
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def rgba(value: str, alpha: int) -> RGBA:
    """Turn ``#rrggbb`` and an alpha (0-255) into an RGBA tuple."""
    return (*rgb(value), alpha)


@dataclass(frozen=True, slots=True, kw_only=True)
class Palette:
    """The colours of one picture: sky, sea, sun and foreground shapes.

    Scenes set under water or seen from above use only the sea colours.
    """

    sky_top: str
    sky_bottom: str
    sea_top: str
    sea_bottom: str
    sun: str
    shapes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Picture:
    """One output file: its name, size, scene and palette.

    ``variant`` shifts phases and positions so two pictures that share a
    scene still look different.
    """

    name: str
    size: tuple[int, int]
    scene: str
    palette: Palette
    variant: int = 0


# --- drawing helpers -----------------------------------------------------------


def gradient(size: tuple[int, int], top: str, bottom: str) -> Image.Image:
    """A vertical gradient from ``top`` to ``bottom`` as an RGBA image."""
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BICUBIC)
    upper = Image.new("RGBA", size, rgba(top, 255))
    lower = Image.new("RGBA", size, rgba(bottom, 255))
    return Image.composite(lower, upper, mask)


def overlay(
    canvas: Image.Image, draw: Callable[[ImageDraw.ImageDraw], None], blur: float = 0
) -> Image.Image:
    """Draw translucent shapes on a clear layer and composite it onto ``canvas``."""
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw(ImageDraw.Draw(layer))
    if blur:  # blur premultiplied, or the clear pixels darken the edges
        layer = layer.convert("RGBa").filter(ImageFilter.GaussianBlur(blur)).convert("RGBA")
    return Image.alpha_composite(canvas, layer)


def sine(width: int, base: float, amp: float, length: float, phase: float) -> list[Point]:
    """Points along a sine curve centred on ``base``, from x = 0 to ``width``."""
    step = max(4, width // 120)
    return [
        (x, base + amp * math.sin(2 * math.pi * x / length + phase))
        for x in range(0, width + step, step)
    ]


def wave(
    width: int, height: int, base: float, amp: float, length: float, phase: float
) -> list[Point]:
    """A closed polygon: a sine curve at ``base`` filled down to the bottom edge."""
    return [*sine(width, base, amp, length, phase), (width, height), (0, height)]


def circle(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    r: float,
    *,
    fill: RGBA | None = None,
    outline: RGBA | None = None,
    width: int = 1,
) -> None:
    """Draw a circle centred on ``(cx, cy)``."""
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)


def polygon(canvas: Image.Image, points: list[Point], fill: RGBA) -> Image.Image:
    """Composite one filled, possibly translucent, polygon onto ``canvas``."""
    return overlay(canvas, lambda d: d.polygon(points, fill=fill))


def sun(canvas: Image.Image, cx: float, cy: float, r: float, colour: str) -> Image.Image:
    """A soft glow with a solid disc in the middle."""
    canvas = overlay(canvas, lambda d: circle(d, cx, cy, r * 2.2, fill=rgba(colour, 90)), r)
    return overlay(canvas, lambda d: circle(d, cx, cy, r, fill=rgba(colour, 235)))


def wave_bands(
    canvas: Image.Image, palette: Palette, start: float, variant: int, count: int = 4
) -> Image.Image:
    """Layered waves from ``start`` (a fraction of the height) to the bottom."""
    w, h = canvas.size
    for i in range(count):
        base = h * (start + (1 - start) * i / count)
        colour = palette.shapes[i % len(palette.shapes)]
        points = wave(w, h, base, h * 0.018 * (i + 1), w / (1.3 + 0.4 * i), variant + i * 1.7)
        canvas = polygon(canvas, points, rgba(colour, 170))
    return canvas


# --- scenes --------------------------------------------------------------------


def horizon(size: tuple[int, int], palette: Palette, variant: int) -> Image.Image:
    """Sky, a low sun, a sea gradient and rolling waves in front."""
    w, h = size
    line = h * 0.56
    canvas = gradient(size, palette.sky_top, palette.sky_bottom)
    canvas = sun(canvas, w * (0.28 + 0.11 * (variant % 5)), line - h * 0.04, h * 0.11, palette.sun)
    sea = gradient((w, h - int(line)), palette.sea_top, palette.sea_bottom)
    canvas.paste(sea, (0, int(line)))
    glint = [(w * 0.2 + w * 0.06 * (variant % 4), line), (w * 0.6, line), (w * 0.75, h), (0, h)]
    canvas = overlay(canvas, lambda d: d.polygon(glint, fill=rgba(palette.sun, 40)), h * 0.03)
    return wave_bands(canvas, palette, 0.68, variant)


def underwater(size: tuple[int, int], palette: Palette, variant: int) -> Image.Image:
    """Light shafts from the surface, swaying kelp strands and rising bubbles."""
    w, h = size
    canvas = gradient(size, palette.sea_top, palette.sea_bottom)
    canvas = overlay(canvas, lambda d: light_shafts(d, w, h, palette.sun, variant), w * 0.012)
    canvas = overlay(canvas, lambda d: kelp(d, w, h, palette.shapes, variant), h * 0.005)
    canvas = overlay(canvas, lambda d: bubbles(d, w, h, variant))
    return wave_bands(canvas, palette, 0.9, variant, count=2)


def light_shafts(d: ImageDraw.ImageDraw, w: int, h: int, colour: str, variant: int) -> None:
    """Five slanting beams of light, widening towards the sea floor."""
    for i in range(5):
        x = w * (0.1 + 0.2 * i + 0.03 * variant)
        beam = [(x, 0), (x + w * 0.06, 0), (x + w * 0.18, h), (x - w * 0.02, h)]
        d.polygon(beam, fill=rgba(colour, 45))


def kelp(d: ImageDraw.ImageDraw, w: int, h: int, colours: tuple[str, ...], variant: int) -> None:
    """Five swaying stems of different heights, each with alternating leaves."""
    leaf_w, leaf_h = w * 0.05, h * 0.04
    for i in range(5):
        x0 = w * (0.1 + 0.2 * i + 0.02 * variant)
        top = h * (0.12 + 0.09 * ((i * 3 + variant) % 4))
        colour = colours[i % len(colours)]
        stem = [
            (x0 + w * 0.025 * math.sin(y / (h * 0.12) + i + variant), y)
            for y in range(h, int(top), -max(4, h // 90))
        ]
        d.line(stem, fill=rgba(colour, 230), width=max(3, w // 160), joint="curve")
        for j, (x, y) in enumerate(stem[8::14]):
            left = x if j % 2 else x - leaf_w
            d.ellipse((left, y - leaf_h / 2, left + leaf_w, y + leaf_h / 2), fill=rgba(colour, 200))


def bubbles(d: ImageDraw.ImageDraw, w: int, h: int, variant: int) -> None:
    """A scatter of small rings at fixed, variant-shifted spots."""
    for i in range(12):
        cx = w * ((0.13 * i + 0.07 * variant) % 1)
        cy = h * ((0.37 * i + 0.2) % 0.9)
        r = h * (0.006 + 0.003 * (i % 4))
        circle(d, cx, cy, r, outline=rgba("#ffffff", 150), width=max(2, h // 300))


def ripples(size: tuple[int, int], palette: Palette, variant: int) -> Image.Image:
    """Concentric rings spreading over still water, seen from above."""
    w, h = size
    canvas = gradient(size, palette.sea_top, palette.sea_bottom)
    shift = 0.1 * (variant % 3)
    spots = [(0.28 + shift, 0.42), (0.74, 0.66 - shift), (0.56 - shift, 0.18 + shift)]
    if variant % 2:  # mirror odd variants so the rings fall on the other side
        spots = [(1 - x, y) for x, y in spots]
    centres = [(w * x, h * y) for x, y in spots]
    for k, (cx, cy) in enumerate(centres[: 2 + variant % 2]):
        colour = palette.shapes[k % len(palette.shapes)]

        def rings(d: ImageDraw.ImageDraw, cx: float = cx, cy: float = cy, c: str = colour) -> None:
            for i in range(1, 9):
                circle(d, cx, cy, h * 0.06 * i, outline=rgba(c, 200 - 20 * i), width=h // 90)

        canvas = overlay(canvas, rings, h * 0.002)
    canvas = overlay(
        canvas, lambda d: circle(d, *centres[0], h * 0.03, fill=rgba(palette.sun, 230))
    )
    return wave_bands(canvas, palette, 0.86, variant, count=2)


def contours(size: tuple[int, int], palette: Palette, variant: int) -> Image.Image:
    """Stacked bands like a chart of depths, under a high pale sun."""
    w, h = size
    canvas = gradient(size, palette.sky_top, palette.sky_bottom)
    canvas = sun(canvas, w * (0.7 - 0.08 * variant), h * 0.25, h * 0.09, palette.sun)
    bands = [palette.sea_top, *palette.shapes, palette.sea_bottom]
    for i, colour in enumerate(bands):
        base = h * (0.42 + 0.58 * i / len(bands))
        points = wave(w, h, base, h * 0.03, w / (0.8 + 0.3 * i), variant * 0.9 + i * 1.3)
        canvas = polygon(canvas, points, rgba(colour, 255))
    return canvas


SCENES = {
    "horizon": horizon,
    "underwater": underwater,
    "ripples": ripples,
    "contours": contours,
}


# --- the pictures --------------------------------------------------------------

PICTURES = (
    # English issue (No. 48)
    Picture(
        name="lead-kelp-forest.jpg",
        size=LEAD,
        scene="underwater",
        palette=Palette(
            sky_top="#bfe3d6",
            sky_bottom="#8fcfc4",
            sea_top="#3c9f98",
            sea_bottom="#0a2c38",
            sun="#eaf7d9",
            shapes=("#6f8a2c", "#93a640", "#4f6d2f", "#a7913a"),
        ),
    ),
    Picture(
        name="dive-seagrass.jpg",
        size=DIVE,
        scene="ripples",
        variant=1,
        palette=Palette(
            sky_top="#d9f0e3",
            sky_bottom="#b5e0c9",
            sea_top="#7cc8a8",
            sea_bottom="#226b5a",
            sun="#f4f1c7",
            shapes=("#e8f7ef", "#b7e6cf", "#3f8f72"),
        ),
    ),
    Picture(
        name="dive-moving-harbour.jpg",
        size=DIVE,
        scene="horizon",
        variant=3,
        palette=Palette(
            sky_top="#6d7f91",
            sky_bottom="#c9d2d8",
            sea_top="#5a6f80",
            sea_bottom="#233442",
            sun="#f3ecd9",
            shapes=("#8397a6", "#4d6273", "#2e4150", "#1b2a36"),
        ),
    ),
    Picture(
        name="dive-ghost-nets.jpg",
        size=DIVE,
        scene="underwater",
        variant=2,
        palette=Palette(
            sky_top="#9aa8e0",
            sky_bottom="#6c79c2",
            sea_top="#4b5aa8",
            sea_bottom="#141a3f",
            sun="#d8defa",
            shapes=("#8c6bb1", "#c08fcf", "#5d4a8f"),
        ),
    ),
    Picture(
        name="dive-whale-lanes.jpg",
        size=DIVE,
        scene="contours",
        variant=1,
        palette=Palette(
            sky_top="#f6c9b8",
            sky_bottom="#fbe6d4",
            sea_top="#c97b8f",
            sea_bottom="#2f2447",
            sun="#fff4e0",
            shapes=("#a4668a", "#7c5283", "#533c6b"),
        ),
    ),
    Picture(
        name="dive-saltmarsh.jpg",
        size=DIVE,
        scene="horizon",
        variant=0,
        palette=Palette(
            sky_top="#f2b866",
            sky_bottom="#fbe3a8",
            sea_top="#c9985a",
            sea_bottom="#5b4a2a",
            sun="#fff2c4",
            shapes=("#a8a04a", "#7e8a3a", "#5e6b2f", "#3f4a24"),
        ),
    ),
    Picture(
        name="dive-tide-gauges.jpg",
        size=DIVE,
        scene="ripples",
        variant=0,
        palette=Palette(
            sky_top="#ffd8c2",
            sky_bottom="#ffb48f",
            sea_top="#f08a6c",
            sea_bottom="#8a2f3c",
            sun="#fff6e8",
            shapes=("#ffe9dc", "#ffc9a8", "#c9556a"),
        ),
    ),
    Picture(
        name="video-urchin-divers.jpg",
        size=VIDEO,
        scene="underwater",
        variant=4,
        palette=Palette(
            sky_top="#a9d6ea",
            sky_bottom="#6fb4d3",
            sea_top="#2f86b0",
            sea_bottom="#071f33",
            sun="#e5f4fb",
            shapes=("#7a4f8f", "#9b6aa8", "#56386b"),
        ),
    ),
    Picture(
        name="video-spore-nursery.jpg",
        size=VIDEO,
        scene="horizon",
        variant=5,
        palette=Palette(
            sky_top="#c8dff2",
            sky_bottom="#fbe0d0",
            sea_top="#8fbcd4",
            sea_bottom="#2c5e7a",
            sun="#fff1d6",
            shapes=("#a9cfe0", "#6fa3bf", "#40789a", "#22506b"),
        ),
    ),
    # Chinese issue (No. 47)
    Picture(
        name="lead-mangroves.jpg",
        size=LEAD,
        scene="contours",
        variant=2,
        palette=Palette(
            sky_top="#d7efe6",
            sky_bottom="#f4f7e8",
            sea_top="#8fc7a3",
            sea_bottom="#123f36",
            sun="#fffbe6",
            shapes=("#5fae83", "#3e8f6a", "#2a6f55"),
        ),
    ),
    Picture(
        name="video-mangrove-planting.jpg",
        size=VIDEO,
        scene="horizon",
        variant=2,
        palette=Palette(
            sky_top="#f2c3a6",
            sky_bottom="#fde9d2",
            sea_top="#9cc9b4",
            sea_bottom="#2e5e4e",
            sun="#ffd27a",
            shapes=("#7fb89a", "#4f9677", "#2f7458", "#1c4f3d"),
        ),
    ),
    Picture(
        name="dive-oyster-reefs.jpg",
        size=DIVE,
        scene="ripples",
        variant=2,
        palette=Palette(
            sky_top="#ece6df",
            sky_bottom="#d9cfc4",
            sea_top="#c8bdb2",
            sea_bottom="#6b5e57",
            sun="#fffaf2",
            shapes=("#f7efe6", "#e7c9b5", "#8f7d72"),
        ),
    ),
    Picture(
        name="dive-typhoon-season.jpg",
        size=DIVE,
        scene="horizon",
        variant=6,
        palette=Palette(
            sky_top="#3d4a5c",
            sky_bottom="#8d9aa6",
            sea_top="#3b5566",
            sea_bottom="#101c26",
            sun="#dfe6ea",
            shapes=("#5f7787", "#466070", "#2d4554", "#1a2c38"),
        ),
    ),
    # Arabic issue (No. 46)
    Picture(
        name="lead-coral-nursery.jpg",
        size=LEAD,
        scene="underwater",
        variant=1,
        palette=Palette(
            sky_top="#bdeef0",
            sky_bottom="#8fdbe0",
            sea_top="#37b6c4",
            sea_bottom="#0b3b4f",
            sun="#fff3e0",
            shapes=("#f08a6c", "#f6b38e", "#d9607a", "#ffcf8a"),
        ),
    ),
    Picture(
        name="video-coral-gardeners.jpg",
        size=VIDEO,
        scene="horizon",
        variant=3,
        palette=Palette(
            sky_top="#ffcf9e",
            sky_bottom="#ffeedb",
            sea_top="#4fc1c9",
            sea_bottom="#0f4c5c",
            sun="#ff9f5a",
            shapes=("#7fd3d6", "#3aa6b3", "#1f7f8f", "#135a68"),
        ),
    ),
    Picture(
        name="dive-dugong-meadows.jpg",
        size=DIVE,
        scene="ripples",
        variant=3,
        palette=Palette(
            sky_top="#e4f3ea",
            sky_bottom="#c4e6d4",
            sea_top="#8fd1b5",
            sea_bottom="#1f5f50",
            sun="#fff8d6",
            shapes=("#f0fbf5", "#bfe9d4", "#4c9a80"),
        ),
    ),
    Picture(
        name="dive-pearl-banks.jpg",
        size=DIVE,
        scene="contours",
        variant=0,
        palette=Palette(
            sky_top="#f3e3c8",
            sky_bottom="#fbf3e6",
            sea_top="#d8c3a5",
            sea_bottom="#3f3a4f",
            sun="#fffdf6",
            shapes=("#c9b8a8", "#a393a6", "#6f6787"),
        ),
    ),
    Picture(
        name="dive-brine-plumes.jpg",
        size=DIVE,
        scene="horizon",
        variant=4,
        palette=Palette(
            sky_top="#9fb8c8",
            sky_bottom="#e6edf1",
            sea_top="#7aa5b8",
            sea_bottom="#1d3a4a",
            sun="#fdfaf0",
            shapes=("#b9d0dc", "#8fb1c3", "#5d8599", "#34596c"),
        ),
    ),
)


def render(picture: Picture) -> Image.Image:
    """Draw ``picture`` at the working scale and shrink it to its final size."""
    w, h = picture.size
    canvas = SCENES[picture.scene]((w * SCALE, h * SCALE), picture.palette, picture.variant)
    return canvas.convert("RGB").resize(picture.size, Image.Resampling.LANCZOS)


def logo(size: tuple[int, int] = LOGO) -> Image.Image:
    """The Tideline wordmark: a sun setting behind a wave, and the name, on a blue pill.

    The wave is painted in the pill's colour, so where it spills past the sun
    it simply disappears into the background; a thin line below is the tide.
    """
    w, h = size[0] * SCALE, size[1] * SCALE
    canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(canvas)
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=h // 2, fill=rgba(BRAND, 255))
    cx, cy, r = h / 2, h * 0.46, h * 0.3
    circle(d, cx, cy, r, fill=rgba(ACCENT, 255))
    span = int(r * 2.4)
    crest = wave(span, span, r * 1.2, r * 0.16, r * 1.1, 0.6)
    d.polygon([(cx - span / 2 + x, cy - r + y) for x, y in crest], fill=rgba(BRAND, 255))
    tide = sine(span, r * 1.75, r * 0.12, r * 1.1, 0.6)
    d.line(
        [(cx - span / 2 + x, cy - r + y) for x, y in tide],
        fill=rgba(ACCENT, 255),
        width=max(2, h // 28),
        joint="curve",
    )
    font = ImageFont.load_default(size=h * 0.46)
    d.text((h * 1.02, h / 2), "Tideline", font=font, fill=rgba("#ffffff", 255), anchor="lm")
    return canvas.resize(size, Image.Resampling.LANCZOS)


def main() -> None:
    """Write every picture and the logo, then report what was written."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    total = 0
    for picture in PICTURES:
        path = OUT_DIR / picture.name
        render(picture).save(path, "JPEG", **JPEG_OPTIONS)
        total += path.stat().st_size
    logo_path = OUT_DIR / "logo.png"
    logo().save(logo_path, "PNG", optimize=True)
    total += logo_path.stat().st_size
    sys.stdout.write(f"wrote {len(PICTURES) + 1} images ({total / 1024:.0f} KB) to {OUT_DIR}\n")


if __name__ == "__main__":
    main()
