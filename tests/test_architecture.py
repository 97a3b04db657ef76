"""docs/architecture.md matches the tree: every package and top-level module of mapkit/
has a row in its ownership table, and every row names something that exists."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_and_module_has_a_row_and_every_row_exists():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = doc[doc.index("## What each package owns"):]
    rows = set(re.findall(r"^\| `([a-z_]+(?:/|\.py))` \|", table, flags=re.MULTILINE))
    package = ROOT / "mapkit"
    tree = {p.name + "/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name != "schemas"}
    tree |= {p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert tree - rows == set(), "packages or modules missing from docs/architecture.md"
    assert rows - tree == set(), "docs/architecture.md names packages or modules that do not exist"
