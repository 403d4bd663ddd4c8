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


class ScenarioError(SselabError):
    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, message
        where = file or "<scenario>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


class UnknownScenarioError(SselabError):
    def __init__(self, name: str, available: list[str]) -> None:
        self.name, self.available = name, available
        super().__init__(
            f"unknown scenario {name!r}; available: {', '.join(sorted(available)) or '(none)'}"
        )


class ConfigError(SselabError):
    pass
