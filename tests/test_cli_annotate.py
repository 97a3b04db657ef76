"""`mapkit validate / import reasonmap / stats`: exit codes and readable messages."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", "file is empty"),
        ("{", "not valid JSON"),
        (b"\x00\x01\xff\xfe binary", "not UTF-8"),
        ('{"city": 3}', "should be of type string"),
        ("[]", "expected a JSON object"),
    ],
)
def test_validate_bad_files_exit_1_without_traceback(run_cli, tmp_path, content, fragment):
    path = tmp_path / "city.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run_cli("validate", path)
    assert code == 1
    assert fragment in err and str(path) in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda d: d["lines"][0]["segments"][0].append("nowhere"), "unknown station id 'nowhere'"),
        (lambda d: d["lines"][1]["segments"][0].append("c"), "appears twice in this segment"),
        (lambda d: d["lines"][2].update(color="#12345"), "lines[2].color"),
        (lambda d: d["lines"][3].update(segments=[["e"]]), "segment has 1 station"),
        (lambda d: d["lines"][3].update(id="B"), "also used by lines[1]"),
        (lambda d: d["stations"]["a"].update(lonlat=[0, 95]), "stations.a.lonlat[1]"),
    ],
)
def test_validate_semantic_problems(run_cli, tmp_path, mini_path, edit, fragment):
    data = json.loads(mini_path.read_text())
    edit(data)
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data))
    code, _, err = run_cli("validate", path)
    assert code == 1 and fragment in err


def test_validate_ok_and_folder(run_cli, mini_path):
    code, out, _ = run_cli("validate", mini_path, mini_path.parent)
    assert code == 0 and "2 of 2 file(s) valid" in out


def test_usage_errors_exit_2(run_cli):
    assert run_cli("validate")[0] == 2
    assert run_cli("no-such-command")[0] == 2


def test_import_then_stats(run_cli, reasonmap_dir, tmp_path):
    code, out, _ = run_cli("import", "reasonmap", reasonmap_dir / "stations", "--out", tmp_path, "--maps", reasonmap_dir / "maps")
    assert code == 0 and "imported 30 cities" in out
    code, out, _ = run_cli("validate", tmp_path, "--quiet")
    assert code == 0
    code, out, _ = run_cli("stats", "--annotations", tmp_path, "--json")
    rows = json.loads(out)
    assert len(rows) == 30
    assert {r["difficulty"] for r in rows} == {"easy", "middle", "hard"}
    wash = next(r for r in rows if r["city"] == "washington")
    assert (wash["line_count"], wash["station_count"]) == (6, 98)
    code, out, _ = run_cli("stats", "--city", "washington", "--annotations", tmp_path)
    assert code == 0 and "washington" in out and "middle" in out


def test_stats_unknown_city_lists_known_ones(run_cli, mini_path):
    code, _, err = run_cli("stats", "--city", "atlantis", "--annotations", mini_path.parent)
    assert code == 1 and "no annotation for city 'atlantis'" in err and "mini" in err


def test_data_half_never_imports_torch(mini_path, tmp_path):
    """`validate`, `stats`, `import` and the CLI's import path must work without torch."""
    code = (
        "import sys\n"
        "from mapkit.cli import main\n"
        f"assert main(['validate', {str(mini_path)!r}]) == 0\n"
        f"assert main(['stats', {str(mini_path)!r}]) == 0\n"
        "for name in ('build', 'render', 'push', 'import'):\n"
        "    main([name, '--help'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'accelerate', 'peft'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_messages_with_brackets_are_printed_verbatim(run_cli, tmp_path, mini_path):
    data = json.loads(mini_path.read_text())
    data["stations"]["a"]["lonlat"] = "east"
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data))
    code, _, err = run_cli("validate", path)
    assert code == 1 and "[longitude, latitude]" in err  # rich markup must not eat the brackets
