"""Map images: size and hash without decoding, and opening maps that are legitimately huge.

ReasonMap's maps reach 14,032 x 19,843 px (Kuala Lumpur, 278 megapixels), past
Pillow's decompression-bomb guard (179 MP). Maps are opened through ``open_map`` with a
higher, explicit cap instead of switching the guard off.
"""
from __future__ import annotations

import struct
from pathlib import Path

from PIL import Image

from mapkit.errors import MapkitError

MAX_MAP_PIXELS = 600_000_000


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) read from the file header; PNG parsed directly, others via Pillow."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(24)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        with _larger_cap(), Image.open(path) as im:
            return im.size
    except (OSError, Image.DecompressionBombError, struct.error) as e:
        raise MapkitError(f"{path}: not a readable image ({e})") from None


def open_map(path: str | Path, mode: str = "RGB") -> Image.Image:
    """Decode a map image fully, converted to ``mode``; clear error when unreadable."""
    try:
        with _larger_cap(), Image.open(path) as im:
            im.load()
            return im.convert(mode) if im.mode != mode else im.copy()
    except (OSError, Image.DecompressionBombError) as e:
        raise MapkitError(f"{path}: cannot open map image ({e})") from None


class _larger_cap:
    def __enter__(self):
        self._old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_MAP_PIXELS
        return self

    def __exit__(self, *exc):
        Image.MAX_IMAGE_PIXELS = self._old
        return False
