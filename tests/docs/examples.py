"""The code blocks of the README and of every guide page, with what running them means.

- ```python: executed in a fresh namespace, from the repository root;
- ```bash / ```sh / ```console: run with ``bash -e`` from the repository root (``console``
  blocks are transcripts: their ``$ `` lines are the commands, the rest is output);
- ```yaml that is a scenario (has a ``response:`` key): validated as a scenario file;
- any other fence (text, json, js, yaml that is not a scenario) is not code to run.

A block that cannot run as written on its own (it runs until Ctrl-C, or stands for your own
app) is excluded *by name*: the line right before its fence is ``<!-- not run: REASON -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUN = {"python", "bash", "sh", "console", "yaml"}
KNOWN = RUN | {"text", "json", "js", "javascript", "html", "toml", "ini", "http", "diff", ""}
NOT_RUN = re.compile(r"^<!-- not run: (?P<reason>.+?) -->$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None  # the reason, when excluded by name

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def commands(self) -> str:
        """The shell commands of a bash/sh block, or the ``$`` lines of a console one."""
        if self.lang != "console":
            return self.code
        lines, out = self.code.splitlines(), []
        for line in lines:
            if line.startswith("$ "):
                out.append(line[2:])
            elif out and out[-1].endswith("\\"):
                out.append(line)
        return "\n".join(out) + "\n"


def blocks(page: Path) -> list[Block]:
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, indent = i, len(m.group("indent"))
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        prev = lines[start - 1].strip() if start else ""
        why = NOT_RUN.match(prev)
        found.append(Block(page, start + 1, m.group("lang"), "\n".join(body) + "\n",
                           why.group("reason") if why else None))
        i += 1
    return found


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks(page)]


def is_scenario(block: Block) -> bool:
    return block.lang == "yaml" and re.search(r"^response:", block.code, re.M) is not None
