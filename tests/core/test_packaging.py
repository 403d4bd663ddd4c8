"""The wheel (``pip install .``, not editable): only sselab's own top-level names, every module and
the scenario files inside, and it runs from another directory.

The wheel goes into a fresh venv *without* system site-packages; its dependencies come from the
environment this suite runs in (its site-packages directories are added by a ``.pth`` file after
the install), so the test works the same in a venv, on the base interpreter and offline.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("POSIX paths", allow_module_level=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "node_modules", "__pycache__", "*.egg-info", "build", "artifacts", "site"))
    out = tmp / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(src)  # the installed copy must not lean on the source tree
    (found,) = out.glob("sselab-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    env_dir = wheel.parent.parent / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                           "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "no such option: --python" in proc.stderr:  # pip < 22.3
        venv.create(env_dir, clear=True, system_site_packages=False, with_pip=True)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # The running environment's dependencies, appended after the venv's own site-packages.
    purelib = Path(subprocess.check_output(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    ours = {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
    if site.ENABLE_USER_SITE:
        ours.add(site.getusersitepackages())
    (purelib / "zz_running_env.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours) if Path(p).is_dir()))
    return env_dir


def test_wheel_has_only_sselabs_own_top_level_names(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
    packages = {t for t in tops if not t.endswith((".dist-info", ".data"))}
    assert packages == {"sselab", "sselab_reference_app"}
    with zipfile.ZipFile(wheel) as zf:
        top_level = next(n for n in zf.namelist() if n.endswith(".dist-info/top_level.txt"))
        assert set(zf.read(top_level).decode().split()) == packages


def test_wheel_ships_scenarios_and_every_module(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "bin" / "sselab"), "scenarios"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert names == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}
    code = ("import sselab, sselab_reference_app, pathlib; print(sselab.__version__); "
            "print(pathlib.Path(sselab.__file__).parent.parent)")
    site_run = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert site_run.returncode == 0, site_run.stderr
    version, site_dir_text = site_run.stdout.split()
    import sselab

    assert version == sselab.__version__
    site_dir = Path(site_dir_text)
    assert site_dir != ROOT
    for pkg in ("sselab", "sselab_reference_app"):
        wanted = {p.relative_to(ROOT) for p in (ROOT / pkg).rglob("*.py")
                  if "__pycache__" not in p.parts}
        shipped = {p.relative_to(site_dir) for p in (site_dir / pkg).rglob("*.py")}
        assert wanted <= shipped, f"missing from the wheel: {sorted(wanted - shipped)}"
    for data in ("sselab/lab/static", "sselab_reference_app/static"):  # the pages' files
        wanted = {p.relative_to(ROOT) for p in (ROOT / data).iterdir()}
        shipped = {p.relative_to(site_dir) for p in (site_dir / data).iterdir()}
        assert wanted and wanted <= shipped, f"missing from the wheel: {sorted(wanted - shipped)}"


@pytest.mark.parametrize("name", ["simulator", "reference_app"])
def test_generic_names_are_not_importable(installed: Path, tmp_path: Path, name: str) -> None:
    proc = subprocess.run([str(installed / "bin" / "python"), "-c", f"import {name}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr


def test_python_dash_m_sselab(installed: Path, tmp_path: Path) -> None:
    proc = subprocess.run([str(installed / "bin" / "python"), "-m", "sselab", "--version"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "sselab" in proc.stdout


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
