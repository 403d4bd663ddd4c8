"""sselab's errors, drawn once::

    SselabError                 every error sselab raises on purpose
     ├── ScenarioError          a scenario file or value is invalid (names file, line, field)
     ├── UnknownScenarioError   a request or command named a scenario that does not exist
     └── ConfigError            a command-line option or setting is invalid

Each carries a message meant for a person; the CLI prints it without a traceback.
"""

from __future__ import annotations


class SselabError(Exception):
    """Base of every error sselab raises on purpose."""


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line: line breaks and other control characters escaped, cut to about
    ``limit`` characters (a field path or a value quoted from a file may hold anything)."""
    if len(text) > limit:
        text = text[:limit] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class ScenarioError(SselabError):
    """One mistake (``file:line: field: message``, always on one line), or several: then
    :attr:`errors` lists each and the message has one line per mistake."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        message = one_line(message)
        field = one_line(field, 120) if field is not None else None
        file = one_line(file, 1000) if file is not None else None
        self.file, self.line, self.field, self.reason = file, line, field, message
        self.errors: list[ScenarioError] = [self]
        where = file or "<scenario>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")

    @classmethod
    def several(cls, errors: list[ScenarioError]) -> ScenarioError:
        """One error standing for every error in ``errors`` (each flattened), in order."""
        flat = [e for err in errors for e in err.errors]
        if len(flat) == 1:
            return flat[0]
        combined = cls.__new__(cls)
        first = flat[0]
        combined.file, combined.line, combined.field = first.file, first.line, first.field
        combined.reason = first.reason
        combined.errors = flat
        Exception.__init__(combined, "\n".join(str(e) for e in flat))
        return combined


class UnknownScenarioError(SselabError):
    def __init__(self, name: str, available: list[str]) -> None:
        self.name, self.available = name, available
        super().__init__(
            f"unknown scenario {name!r}; available: {', '.join(sorted(available)) or '(none)'}"
        )


class ConfigError(SselabError):
    pass
