"""The README's ```python examples run as written (```py marks an illustration that needs
your own app or event loop), and its first two commands stay the set-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_example_runs(code: str) -> None:
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})


def test_starts_with_the_two_setup_commands() -> None:
    first = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()
                if line.strip()]
    assert commands == ["pip install . && sselab demo", "bash scripts/test.sh"]
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
