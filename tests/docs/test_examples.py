"""Every code block of the README and of every guide page runs as written (see examples.py for
what runs and how a block is excluded by name)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sselab import load_text

from .examples import KNOWN, ROOT, all_blocks, is_scenario

BLOCKS = all_blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python" and not b.not_run]
SHELL = [b for b in BLOCKS if b.lang in ("bash", "sh", "console") and not b.not_run]
SCENARIOS = [b for b in BLOCKS if is_scenario(b) and not b.not_run]
EXCLUDED = [b for b in BLOCKS if b.not_run]


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(block.code, block.id, "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("block", SHELL, ids=[b.id for b in SHELL])
def test_shell_block_runs(block) -> None:
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-e", "-c", block.commands()], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{block.id}:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("block", SCENARIOS, ids=[b.id for b in SCENARIOS])
def test_scenario_block_is_valid(block) -> None:
    load_text(block.code, block.id, default_name="example")


@pytest.mark.parametrize("block", EXCLUDED, ids=[f"{b.id} ({b.not_run})" for b in EXCLUDED])
def test_excluded_blocks_say_why(block) -> None:
    assert len(block.not_run) >= 10, "say why the block cannot run as written"
    assert block.lang in ("python", "bash", "sh", "console", "yaml"), \
        "only runnable blocks need excluding"


def test_every_fence_is_a_known_language() -> None:
    unknown = {(b.id, b.lang) for b in BLOCKS if b.lang not in KNOWN}
    assert not unknown, f"unknown fence languages (use python, bash, console, ...): {unknown}"


def test_enough_blocks_run() -> None:  # a broken parser would quietly run nothing
    assert len(PYTHON) >= 8 and len(SHELL) >= 3 and len(SCENARIOS) >= 1
