"""The CLI on nasty files: ``scenarios check`` lists one line per mistake and exits 1; ``serve``
refuses to start with one clear message and exit status 2 (a traceback used to exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sselab.cli import main

from .test_loader_nasty import CASES, laughs

ROOT = Path(__file__).resolve().parents[2]


def write_cases(directory: Path) -> dict[str, Path]:
    paths = {}
    for name, (text, *_rest) in CASES.items():
        path = directory / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def serve(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sselab", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_scenarios_check_gives_one_line_per_nasty_file_and_exits_1(tmp_path: Path) -> None:
    paths = write_cases(tmp_path)
    result = CliRunner().invoke(main, ["scenarios", "check", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = result.output
    assert "Traceback" not in out
    for name, path in paths.items():
        lines = [line for line in out.splitlines() if line.startswith(f"{path}:")]
        assert lines, f"no error line for {name}"
        _text, line, field, needle = CASES[name]
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        assert any(x.startswith(where) and needle in x for x in lines), (name, lines)
    assert "ok   " not in out
    assert out.strip().splitlines()[-1].startswith(f"{len(CASES)} files, ")


@pytest.mark.parametrize("name", ["recursive-list", "deep-brackets", "unknown-locale",
                                  "json-binary", "retry-after-nan"])
def test_serve_with_a_nasty_file_exits_2_with_one_line(tmp_path: Path, name: str) -> None:
    text, line, field, needle = CASES[name]
    (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    proc = serve("--scenarios", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"sselab: {tmp_path / name}.yaml:{line}: ") and needle in lines[0]


def test_serve_refuses_a_billion_laughs_file_at_once(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(laughs(), encoding="utf-8")
    proc = serve("--scenarios", str(tmp_path), timeout=30.0)  # it used to hang, unbounded
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"sselab: {tmp_path / 'bomb.yaml'}:5: e[5]: more than 50,000 values in the document "
        "(an alias counts as a copy of what it names)"]


def test_serve_with_every_nasty_file_names_each_and_exits_2(tmp_path: Path) -> None:
    paths = write_cases(tmp_path)
    proc = serve("--scenarios", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    first, *rest = proc.stderr.strip().splitlines()
    assert first.startswith("sselab: ") and "scenario errors in" in first
    for path in paths.values():
        assert any(line.strip().startswith(f"{path}:") for line in rest), path
