"""Fonts for map labels: find a default, load a user's, and refuse to draw tofu.

The default is the first of a few well-known sans-serif files that exists (DejaVu Sans
ships with most Linux systems and with matplotlib), falling back to the small Latin
font bundled with Pillow. Neither draws Chinese, Japanese or Korean: a map whose names
need glyphs the font lacks is refused with a message naming the characters and the
``--font`` option, instead of being drawn with empty boxes.
"""
from __future__ import annotations

import importlib.util
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from PIL import ImageFont

from mapkit.errors import RenderError

_REGULAR = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian, Ubuntu
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",  # Fedora
    "/usr/share/fonts/TTF/DejaVuSans.ttf",  # Arch
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",  # macOS
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
_BOLD_NAMES = {"DejaVuSans.ttf": "DejaVuSans-Bold.ttf", "Arial.ttf": "Arial Bold.ttf", "arial.ttf": "arialbd.ttf"}
_PROBE = "\U000F0000"  # a private-use code point no label font maps: draws the .notdef glyph


def default_font_path() -> Path | None:
    """The default label font file, or None for Pillow's bundled Latin-only font."""
    for candidate in _REGULAR:
        if Path(candidate).is_file():
            return Path(candidate)
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if bundled.is_file():
            return bundled
    return None


@dataclass
class FontSet:
    """Regular and bold faces of one font at any size, cached."""

    path: Path | None  # None: Pillow's bundled font
    bold_path: Path | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path | None) -> "FontSet":
        if path is None:
            regular = default_font_path()
            bold = None
            if regular is not None and regular.name in _BOLD_NAMES:
                candidate = regular.with_name(_BOLD_NAMES[regular.name])
                bold = candidate if candidate.is_file() else None
            return cls(regular, bold)
        path = Path(path)
        if not path.is_file():
            raise RenderError(f"font file {str(path)!r} not found (--font takes the path of a .ttf, .otf or .ttc file; `fc-list` lists installed fonts)")
        try:
            ImageFont.truetype(str(path), 12)
        except OSError as e:
            raise RenderError(f"{path}: not a font file Pillow can read ({e}); pass a .ttf, .otf or .ttc file") from None
        return cls(path, None)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "Pillow's bundled font"

    def get(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        size = max(6, int(round(size)))
        key = (size, bold)
        if key not in self._cache:
            path = self.bold_path if bold and self.bold_path else self.path
            if path is None:
                font = ImageFont.load_default(size=size)
            else:
                font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
            self._cache[key] = font
        return self._cache[key]

    def missing_characters(self, texts: Iterable[str]) -> list[str]:
        """Characters of ``texts`` this font would draw as empty boxes (.notdef)."""
        font = self.get(32)
        notdef = font.getmask(_PROBE)
        notdef_key = (notdef.size, bytes(notdef))
        missing = []
        for ch in sorted(set("".join(texts))):
            if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Mn"):
                continue
            mask = font.getmask(ch)
            if (mask.size, bytes(mask)) == notdef_key:
                missing.append(ch)
        return missing


def check_coverage(fonts: FontSet, labels: dict[str, str], *, user_font: bool) -> None:
    """Raise RenderError when some label needs characters ``fonts`` cannot draw."""
    missing = fonts.missing_characters(labels.values())
    if not missing:
        return
    missing_set = set(missing)
    examples = [f"{text!r} ({key})" for key, text in labels.items() if missing_set & set(text)][:3]
    shown = "".join(missing[:12]) + ("..." if len(missing) > 12 else "")
    cjk = any(_is_cjk(ch) for ch in missing)
    advice = ("a font that covers Chinese, Japanese and Korean, e.g. NotoSansCJK-Regular.ttc "
              "(Debian/Ubuntu: apt install fonts-noto-cjk; then `fc-list :lang=ja` shows its path)") if cjk else \
        _covering_advice(missing, fonts.path)
    where = f"the font {fonts.name}" if user_font else f"the default font ({fonts.name})"
    raise RenderError(
        f"{len(missing)} character(s) in station or line names cannot be drawn with {where}: {shown} "
        f"(in {', '.join(examples)}); a real font is needed: pass --font PATH to {advice}"
    )


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (0x2E80 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF or 0xF900 <= cp <= 0xFAFF
            or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3134F)


_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts", "/Library/Fonts",
              "/System/Library/Fonts", "C:/Windows/Fonts")
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc")


def font_with(chars: Iterable[str], *, exclude: Path | None = None, limit: int = 400) -> Path | None:
    """An installed font file that draws every character of ``chars`` (checked glyph by
    glyph, as ``missing_characters`` does), or None. Looks at up to ``limit`` files."""
    chars = list(chars)
    seen = 0
    for folder in _FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES):
            if exclude is not None and path.resolve() == exclude.resolve():
                continue
            seen += 1
            if seen > limit:
                return None
            try:
                if not FontSet(path).missing_characters(chars):
                    return path
            except (OSError, ValueError):  # bitmap-only or unreadable fonts
                continue
    return None


def _covering_advice(missing: list[str], current: Path | None) -> str:
    # Never suggest a font without checking it has the glyphs (the font in use lacks them).
    found = font_with(missing, exclude=current)
    if found is not None:
        return f"a font that has these characters, e.g. {found} (installed here)"
    return ("a font that has these characters; none of the fonts installed here has them all "
            "(install one, or use names without them)")

