"""Draw transit maps from annotations (``render_map``) and annotator overlays.

``render_map(annotation).save("tokyo.png")`` writes the image and
``tokyo.geometry.json`` (every station's centre and marker box, every label's box) so
questions and previews can point at exact pixels. See ``mapkit.render.draw``.
"""
from __future__ import annotations

from mapkit.render.draw import Rendered, render_map
from mapkit.render.fonts import FontSet, default_font_path

__all__ = ["Rendered", "render_map", "FontSet", "default_font_path"]
