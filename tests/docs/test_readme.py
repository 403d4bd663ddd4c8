"""The README is the landing page: the two set-up commands first, short, with a map of the
guide; every command's help points at its guide page."""

from __future__ import annotations

import re

import click
import click.testing
import yaml

from sselab.cli import GUIDE, main

from .examples import ROOT, blocks

README = ROOT / "README.md"


def test_starts_with_the_two_setup_commands() -> None:
    first = next(b for b in blocks(README) if b.lang == "bash")
    commands = [line.split("#")[0].strip() for line in first.code.splitlines() if line.strip()]
    assert commands == ["pip install . && sselab demo", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    text = README.read_text(encoding="utf-8")
    assert text.index("pip install . && sselab demo") < text.index("## ")  # before any section


def test_readme_is_short_and_maps_every_guide_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 170  # a landing page: pitch, commands, quick start, map
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(items: list) -> list[str]:
        out = []
        for item in items:
            for value in item.values():
                out += pages(value) if isinstance(value, list) else [value]
        return out

    linked = set(re.findall(r"\]\(docs/([\w./-]+\.md)", text))
    missing = {p for p in pages(nav) if p != "index.md"} - linked
    assert not missing, f"README's guide map misses {sorted(missing)}"


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, prefix + name + " ")
    return out


def test_every_help_ends_with_its_guide_page() -> None:
    runner = click.testing.CliRunner()
    for path, _cmd in [("", main), *_commands(main)]:
        result = runner.invoke(main, [*path.split(), "--help"])
        assert result.exit_code == 0, path
        last = result.output.strip().splitlines()[-1].strip()
        assert last.startswith("Guide: docs/"), (path, last)
        page = last.removeprefix("Guide: ")
        assert (ROOT / page).is_file(), (path, page)
    assert set(main.commands) <= set(GUIDE), "give every command its guide page in GUIDE"
