"""Line colours a reader can tell apart.

Measure: CIE76 colour difference ΔE*ab, the Euclidean distance in CIELAB (sRGB, D65).
Two drawn lines closer than ``MIN_DELTA_E`` cannot be told apart on the map (about
five times a just-noticeable difference: thin anti-aliased strokes need more than a
swatch does). The official colour is always the default; only a line whose colour is
too close to a line drawn before it (annotation order) gets another one, the palette
colour farthest from every colour already used and from the white paper. A line that
no palette colour separates keeps its colour and is reported as indistinct: the
answerability gate then leaves out questions that name it.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MIN_DELTA_E = 20.0
MIN_DELTA_E_PAPER = 25.0  # a line must also stand out from the white background


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def lab(color: str | tuple[int, int, int]) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour."""
    rgb = np.array(hex_to_rgb(color) if isinstance(color, str) else color, dtype=float) / 255.0
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]])
    xyz = m @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str | tuple[int, int, int], b: str | tuple[int, int, int]) -> float:
    """CIE76 ΔE*ab between two colours (0 = the same; ~2.3 = just noticeable)."""
    return float(np.linalg.norm(lab(a) - lab(b)))


def _palette() -> list[str]:
    """Candidate replacement colours: saturated hues at three lightness levels (fixed order)."""
    import colorsys

    out = []
    for light, sat in ((0.42, 0.85), (0.30, 0.75), (0.58, 0.9)):
        for k in range(24):
            r, g, b = colorsys.hls_to_rgb(k / 24, light, sat)
            out.append("#%02X%02X%02X" % (round(r * 255), round(g * 255), round(b * 255)))
    out += ["#222222", "#6B6B6B", "#8B4513", "#556B2F"]
    return out


PALETTE = tuple(_palette())


def distinct_colors(lines: Iterable[tuple[str, str]], min_delta: float = MIN_DELTA_E) -> tuple[dict[str, str], set[str]]:
    """(line id -> colour to draw, ids still too close to another line) for (id, official colour) pairs."""
    drawn: dict[str, str] = {}
    labs: dict[str, np.ndarray] = {}
    white = lab("#FFFFFF")
    palette = [c for c in PALETTE if np.linalg.norm(lab(c) - white) >= MIN_DELTA_E_PAPER]
    palette_labs = np.array([lab(c) for c in palette])
    for lid, color in lines:
        own = lab(color)
        used = np.array(list(labs.values())).reshape(-1, 3)
        if not len(used) or np.linalg.norm(used - own, axis=1).min() >= min_delta:
            drawn[lid], labs[lid] = color.upper(), own
            continue
        # the palette colour farthest from every colour in use (first one on ties)
        gaps = np.linalg.norm(palette_labs[:, None, :] - used[None, :, :], axis=2).min(axis=1)
        k = int(np.argmax(gaps))
        if gaps[k] >= min_delta:
            drawn[lid], labs[lid] = palette[k], palette_labs[k]
        else:
            drawn[lid], labs[lid] = color.upper(), own
    ids = list(labs)
    if not ids:
        return drawn, set()
    all_labs = np.array([labs[i] for i in ids])
    d = np.linalg.norm(all_labs[:, None, :] - all_labs[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    close = {ids[i] for i in np.flatnonzero(d.min(axis=1) < min_delta)}
    return drawn, close
