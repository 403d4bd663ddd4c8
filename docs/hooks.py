"""MkDocs hook: expand ``<!-- sselab:NAME -->`` markers into tables generated from the code
(``sselab._docgen``), so the reference pages cannot drift from the registries."""

from __future__ import annotations

from typing import Any


def on_page_markdown(markdown: str, **_: Any) -> str:
    from sselab._docgen import expand

    return expand(markdown)
