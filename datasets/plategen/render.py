"""Render a flat Israeli plate (520x110 mm) with its IL strip, border, separators, dealer text and wear.

Proportions follow real plates: digits fill ~70 % of the height, a blue strip with the flag and "IL"
sits on the left of most plates, a thin black border runs round the edge, and the dealer's phone
number or name is printed small under the digits. Fonts are narrow, DIN-like OFL fonts vendored in
`fonts/` (see README); weight, width and spacing vary per plate so the OCR never learns one face.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lpr.plate_format import LAYOUTS  # one table of layouts for the reader and the generator

FONT_DIR = Path(__file__).parent / "fonts"
PX_PER_MM = 2.0  # 1040x220 px: sharp enough for plates up to ~40 % of a 1920-px frame
PLATE_MM = (520, 110)


@dataclass
class RenderedPlate:
    image: np.ndarray  # (PLATE_H, PLATE_W, 3) BGR uint8, the plate exactly edge to edge
    text: str  # digits


def font_paths() -> list[Path]:
    paths = sorted(FONT_DIR.glob("*.ttf"))
    if not paths:
        raise FileNotFoundError(f"no .ttf fonts in {FONT_DIR}")
    return paths


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


GLYPH_SIZE = 96  # glyphs are rasterised once at this size and resized per plate (cache stays small)


@lru_cache(maxsize=2048)
def _glyph(path: str, ch: str, size: int = GLYPH_SIZE) -> np.ndarray:
    """Tight alpha mask of one character: digit shapes are reused across thousands of plates."""
    f = _font(path, size)
    left, top, right, bottom = f.getbbox(ch)
    im = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(im).text((2 - left, 2 - top), ch, font=f, fill=255)
    a = np.asarray(im)
    ys, xs = np.nonzero(a > 8)
    if len(ys) == 0:  # a space
        return np.zeros((size, size // 3), np.uint8)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


def random_plate_text(rng: np.random.Generator, n_digits: int | None = None) -> str:
    n = n_digits or int(rng.choice([7, 8]))
    return "".join(str(d) for d in rng.integers(0, 10, n))


LETTERS = "ABCDEHKMNPRSTXYZ"


def random_letter_text(rng: np.random.Generator) -> str:
    """A 7/8-character plate with 2-4 letters among its digits: a foreign or special plate, which the OCR must not
    turn into an Israeli one (letters read as look-alike digits opened visits under phantom plates)."""
    chars = list(random_plate_text(rng))
    for i in rng.choice(len(chars), int(rng.integers(2, 5)), replace=False):
        chars[i] = str(rng.choice(list(LETTERS)))
    return "".join(chars)


def _yellow(rng: np.random.Generator) -> np.ndarray:
    """Fresh to faded plate yellow (BGR), with a random cast."""
    hue = rng.uniform(20, 30)  # OpenCV hue (0-180): ~40-60 degrees
    sat = rng.uniform(150, 255) if rng.random() < 0.8 else rng.uniform(70, 150)
    val = rng.uniform(190, 255)
    hsv = np.uint8([[[hue, sat, val]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _paste_mask(canvas: np.ndarray, mask: np.ndarray, x: int, y: int, color) -> None:
    """Alpha-composite a glyph mask of one colour onto canvas at (x, y), clipped."""
    h, w = mask.shape
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = mask[y0 - y : y1 - y, x0 - x : x1 - x, None].astype(np.float32) / 255.0
    region = canvas[y0:y1, x0:x1]
    region[:] = region * (1 - a) + np.asarray(color, np.float32) * a


def _text_mask(text: str, font: str, height: int, rng: np.random.Generator) -> np.ndarray:
    """Small text (dealer line, IL) as one mask scaled to a target cap height."""
    glyphs = [_glyph(font, c) for c in text]
    gh = max(g.shape[0] for g in glyphs)
    a = np.zeros((gh, sum(g.shape[1] for g in glyphs) + 8 * len(glyphs)), np.uint8)
    x = 0
    for g in glyphs:  # bottom-aligned, like a baseline for caps and digits
        a[gh - g.shape[0] :, x : x + g.shape[1]] = g
        x += g.shape[1] + 8
    s = height / max(1, a.shape[0])
    return cv2.resize(a, (max(1, int(a.shape[1] * s)), max(1, height)), interpolation=cv2.INTER_AREA)


def _draw_strip(canvas: np.ndarray, x0: int, x1: int, rng: np.random.Generator, font: str) -> None:
    """Blue strip: small flag on top, white 'IL', a line of tiny script marks.

    Its look varies a lot on purpose (shade of blue, flag and IL size and place, blur): on real crops
    a plain strip taught the OCR to read the white blobs as a leading '3' or '1'.
    """
    H = canvas.shape[0]
    light = rng.uniform(0.6, 1.6)
    blue = np.clip(np.array([rng.uniform(110, 210), rng.uniform(30, 110), rng.uniform(0, 50)]) * light, 0, 255)
    blue = blue.astype(np.float32)
    canvas[:, x0:x1] = blue
    w = x1 - x0
    white = np.full(3, rng.uniform(200, 250), np.float32)
    # flag: white rectangle with two blue stripes and a star mark
    fy0 = int(H * rng.uniform(0.05, 0.18))
    fy1 = fy0 + int(H * rng.uniform(0.18, 0.34))
    m = rng.uniform(0.08, 0.25)
    fx0, fx1 = x0 + int(w * m), x1 - int(w * rng.uniform(0.08, 0.25))
    if rng.random() < 0.9:
        canvas[fy0:fy1, fx0:fx1] = white
        fh = fy1 - fy0
        for fr in (0.12, 0.75):
            yy = fy0 + int(fh * fr)
            canvas[yy : yy + max(1, fh // 7), fx0:fx1] = blue
        cx, cy, r = (fx0 + fx1) // 2, (fy0 + fy1) // 2, max(2, fh // 6)
        pts = np.array([[cx, cy - r], [cx + r, cy + r // 2], [cx - r, cy + r // 2]], np.int32)
        cv2.polylines(canvas, [pts], True, blue.tolist(), max(1, r // 3))
    il = _text_mask("IL", font, int(H * rng.uniform(0.18, 0.34)), rng)
    il = cv2.resize(il, (max(1, min(w - 4, int(il.shape[1] * rng.uniform(0.8, 1.5)))), il.shape[0]))
    iy = int(np.clip(fy1 + H * rng.uniform(0.04, 0.15), 0, H - il.shape[0] - 1))
    _paste_mask(canvas, il, x0 + (w - il.shape[1]) // 2 + int(rng.integers(-2, 3)), iy, white)
    if rng.random() < 0.8:  # tiny script line under IL (stands for the Hebrew/Arabic marks)
        tiny = _text_mask("ISRAEL", font, max(3, int(H * rng.uniform(0.04, 0.08))), rng)
        tiny = cv2.resize(tiny, (max(1, w - 8), tiny.shape[0]))
        _paste_mask(canvas, tiny, x0 + 4, min(H - tiny.shape[0] - 1, int(H * rng.uniform(0.78, 0.88))), white)
    if rng.random() < 0.4:  # worn or out-of-focus print
        k = int(rng.choice([3, 5]))
        canvas[:, x0:x1] = cv2.GaussianBlur(canvas[:, x0:x1], (k, k), 0)


def render_plate(rng: np.random.Generator, text: str | None = None, px_per_mm: float = PX_PER_MM) -> RenderedPlate:
    """Draw one plate. `text` is 7 or 8 digits; a random one is drawn when omitted.

    OCR crops end up ~100 px wide, so they use px_per_mm=1 to render four times fewer pixels. The steps
    draw from `rng` in a fixed order, so a seed always renders the same plate.
    """
    text = text or random_plate_text(rng)
    fonts = font_paths()
    font = str(fonts[rng.integers(len(fonts))])
    W, H = int(PLATE_MM[0] * px_per_mm), int(PLATE_MM[1] * px_per_mm)
    bg = _yellow(rng)
    canvas = np.empty((H, W, 3), np.float32)
    canvas[:] = bg
    ink = np.full(3, rng.uniform(5, 45), np.float32)

    # left strip (most plates), or an old plate with the strip missing
    strip = rng.random() < 0.85
    strip_w = int(W * rng.uniform(0.075, 0.095)) if strip else 0
    border = max(2, int(H * rng.uniform(0.02, 0.045)))
    if strip:
        _draw_strip(canvas, border, border + strip_w, rng, font)
    left = border + strip_w  # the digits' area starts after the strip
    y, digit_h, x0, avail = _draw_digits(canvas, rng, text, font, ink, left, border)
    _draw_dealer_text(canvas, rng, font, ink, x0, avail, y + digit_h, border)
    _draw_border_and_screws(canvas, rng, ink, bg, border)
    _wear(canvas, rng, bg)
    return RenderedPlate(np.clip(canvas, 0, 255).astype(np.uint8), text)


def _digit_glyphs(rng: np.random.Generator, text: str, font: str, digit_h: int) -> list[np.ndarray]:
    """The text's glyphs at digit height, a per-plate width and weight (real plate digits are bold)."""
    glyphs = [_glyph(font, c) for c in text]
    glyphs = [cv2.resize(g, (max(1, int(g.shape[1] * digit_h / g.shape[0])), digit_h)) for g in glyphs]
    width_scale = rng.uniform(0.85, 1.2)
    glyphs = [cv2.resize(g, (max(1, int(g.shape[1] * width_scale)), digit_h)) for g in glyphs]
    if rng.random() < 0.5:  # weight variation: mostly thicken
        k = np.ones((3, 3), np.uint8)
        op = cv2.dilate if rng.random() < 0.8 else cv2.erode
        glyphs = [op(g, k) for g in glyphs]
    return glyphs


def _draw_digits(canvas: np.ndarray, rng: np.random.Generator, text: str, font: str, ink: np.ndarray, left: int,
                 border: int) -> tuple[int, int, int, int]:
    """Digits in their layout's groups with separator dashes; returns (top, height, area left, area width)."""
    H, W = canvas.shape[:2]
    groups = LAYOUTS[len(text)]
    # height ~62-74 % of the plate, narrow font stretched to fill the usable width
    digit_h = int(H * rng.uniform(0.62, 0.74))
    glyphs = _digit_glyphs(rng, text, font, digit_h)
    gap = digit_h * rng.uniform(0.05, 0.12)
    sep_w = digit_h * rng.uniform(0.1, 0.2)
    sep_gap = digit_h * rng.uniform(0.08, 0.16)
    total = sum(g.shape[1] for g in glyphs) + gap * (len(text) - len(groups)) + 2 * (sep_w + 2 * sep_gap)
    left = left + int(rng.integers(1, 8))
    avail = W - left - border - 4
    # Real plates fill their width in both layouts: 7-digit plates have wider digits, not more empty
    # space (narrow 7-digit renders taught the OCR a shape real 7-digit plates do not have). Widen
    # to the fill, but never past a wide DIN digit's aspect; always shrink to fit.
    fill = avail * rng.uniform(0.8, 0.97)
    s = fill / total
    widest = max(g.shape[1] for g in glyphs) / digit_h
    if s > 1:
        s = min(s, max(1.0, 0.72 / widest))
    glyphs = [cv2.resize(g, (max(1, int(g.shape[1] * s)), digit_h)) for g in glyphs]
    gap, sep_w, sep_gap, total = gap * s, sep_w * s, sep_gap * s, total * s
    x = left + (avail - total) / 2 + rng.uniform(-0.3, 0.3) * max(0, avail * 0.97 - total)
    y = int((H - digit_h) * rng.uniform(0.3, 0.42))
    i = 0
    for gi, n in enumerate(groups):
        for j in range(n):
            g = glyphs[i]
            _paste_mask(canvas, g, int(round(x)), y + int(rng.integers(-1, 2)), ink)
            x += g.shape[1] + (gap if j < n - 1 else 0)
            i += 1
        if gi < len(groups) - 1:
            x += sep_gap
            _draw_separator(canvas, rng, ink, x, y, sep_w, digit_h)
            x += sep_w + sep_gap
    return y, digit_h, left, avail


def _draw_separator(canvas: np.ndarray, rng: np.random.Generator, ink: np.ndarray, x: float, y: int, sep_w: float,
                    digit_h: int) -> None:
    """A short thick dash at mid height, now and then with the ministry's small triangle under it."""
    sh = max(2, int(digit_h * rng.uniform(0.08, 0.15)))
    sy = y + digit_h // 2 - sh // 2
    canvas[sy : sy + sh, int(x) : int(x + sep_w)] = ink
    if rng.random() < 0.35:
        cx, by = int(x + sep_w / 2), int(y + digit_h * 0.95)
        r = max(2, int(digit_h * 0.07))
        tri = np.array([[cx, by - 2 * r], [cx + r, by], [cx - r, by]], np.int32)
        cv2.fillPoly(canvas, [tri], ink.tolist())


def _draw_dealer_text(canvas: np.ndarray, rng: np.random.Generator, font: str, ink: np.ndarray, left: int,
                      avail: int, digits_bottom: int, border: int) -> None:
    """The dealer's name or phone in small print under the digits (most plates)."""
    H = canvas.shape[0]
    if rng.random() < 0.75:
        dealer_h = max(3, int(H * rng.uniform(0.06, 0.1)))
        words = "".join(rng.choice(list("0123456789 -ABCDEFGHKLMNOPRSTUZ"), int(rng.integers(12, 30))))
        dm = _text_mask(words, font, dealer_h, rng)
        maxw = int(avail * rng.uniform(0.5, 0.95))
        if dm.shape[1] > maxw:
            dm = cv2.resize(dm, (maxw, dm.shape[0]))
        dx = left + int((avail - dm.shape[1]) * rng.uniform(0.2, 0.8))
        _paste_mask(canvas, dm, dx, min(H - border - dealer_h - 1, digits_bottom + int(H * 0.03)), ink)


def _draw_border_and_screws(canvas: np.ndarray, rng: np.random.Generator, ink: np.ndarray, bg: np.ndarray,
                            border: int) -> None:
    H, W = canvas.shape[:2]
    cv2.rectangle(canvas, (border // 2, border // 2), (W - 1 - border // 2, H - 1 - border // 2), ink.tolist(),
                  border)
    if rng.random() < 0.5:
        for sx in (rng.uniform(0.2, 0.3), rng.uniform(0.7, 0.8)):
            cv2.circle(canvas, (int(W * sx), int(H * rng.uniform(0.08, 0.14))), max(2, H // 40),
                       (bg * rng.uniform(0.5, 0.9)).tolist(), -1)


def _wear(canvas: np.ndarray, rng: np.random.Generator, bg: np.ndarray) -> None:
    """Dirt, scratches, a sticker now and then, and uneven fading across the plate."""
    H, W = canvas.shape[:2]
    if rng.random() < 0.5:  # low-frequency dirt / fading
        small = rng.uniform(0.75, 1.05, (4, 8)).astype(np.float32)
        canvas *= cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)[:, :, None]
    if rng.random() < 0.3:  # scratches
        for _ in range(int(rng.integers(1, 6))):
            p0 = (int(rng.integers(0, W)), int(rng.integers(0, H)))
            p1 = (p0[0] + int(rng.integers(-W // 12, W // 12)), p0[1] + int(rng.integers(-H // 10, H // 10)))
            cv2.line(canvas, p0, p1, (bg * rng.uniform(0.6, 1.2)).tolist(), 1)
    if rng.random() < 0.1:  # sticker in a corner, away from the digits' centre
        sw, sh = int(W * rng.uniform(0.04, 0.08)), int(H * rng.uniform(0.15, 0.3))
        sx = int(rng.choice([W * 0.1, W * 0.88]))
        sy = int(rng.choice([H * 0.05, H * 0.75]))
        canvas[sy : sy + sh, sx : sx + sw] = rng.uniform(0, 255, 3)
    if rng.random() < 0.3:  # speckle dirt
        n = int(rng.integers(20, 200))
        ys, xs = rng.integers(0, H, n), rng.integers(0, W, n)
        canvas[ys, xs] *= rng.uniform(0.3, 0.8, (n, 1))
