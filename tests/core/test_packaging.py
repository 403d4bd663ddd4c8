"""``pip install .`` (not editable) ships every module and the scenario files inside the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "node_modules", "__pycache__", "*.egg-info", "build", "artifacts"))
    env_dir = tmp / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q",
                           "--no-deps", str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(src)  # the installed copy must not lean on the source tree
    return env_dir


def test_wheel_ships_scenarios_and_every_module(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "bin" / "sselab"), "scenarios"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names = {line.split()[0] for line in out.stdout.splitlines()}
    assert names == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}
    code = ("import simulator, reference_app, pathlib, sys; "
            "print(pathlib.Path(simulator.__file__).parent.parent)")
    site = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert site.returncode == 0, site.stderr
    site_dir = Path(site.stdout.strip())
    assert site_dir != ROOT
    for pkg in ("simulator", "reference_app"):
        wanted = {p.relative_to(ROOT) for p in (ROOT / pkg).rglob("*.py")
                  if "__pycache__" not in p.parts}
        shipped = {p.relative_to(site_dir) for p in (site_dir / pkg).rglob("*.py")}
        assert wanted <= shipped, f"missing from the wheel: {sorted(wanted - shipped)}"


def test_installed_serve_port_0(installed: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([str(installed / "bin" / "sselab"), "serve", "--port", "0"],
                            cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


if sys.platform == "win32":  # pragma: no cover
    pytest.skip("POSIX paths", allow_module_level=True)
