"""The loader's limits: what a scenario file may cost to read, and what it may generate.

Every limit is checked before the work it bounds (the size before reading, the nesting and the
alias expansion while the YAML is composed, the Faker counts before generating text), so that a
hostile or mistaken file is refused with a one-line error instead of hanging the loader: an alias
bomb in milliseconds, the slowest file of the largest size in a few seconds.
``docs/limits-and-safety.md`` documents these numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_FILE_BYTES = 1_048_576  # a scenario file (or text) of at most 1 MiB
MAX_DEPTH = 64  # lists and mappings nested at most this deep
MAX_NODES = 50_000  # values in a document, each alias counted as a copy of what it names
MAX_CHARS = MAX_FILE_BYTES  # characters of all scalars together, aliases counted as copies
MAX_NUMBER_CHARS = 100  # characters of one number (a longer one is slow to convert)
MAX_NUMBER = 2**53 - 1  # magnitude of a number in a typed field (exact in every JSON client)
MAX_TOKENS = 200_000  # tokens a scenario streams (thinking, answer and tool-call fragments)
MAX_FAULTS = 100  # faults in one scenario
MAX_ERRORS = 100  # mistakes reported for one file (then a line saying how many more)
MAX_FAKER = {"words": 200_000, "sentences": 20_000, "paragraphs": 5_000}

# A recording (a file with a top-level ``recording:`` key, as ``sselab record`` writes) holds
# the bytes a provider sent: larger budgets, still bounded, still counting aliases as copies.
MAX_RECORDING_BYTES = 64 * 1_048_576
MAX_RECORDING_NODES = 1_000_000


@dataclass(frozen=True)
class Budget:
    """What composing one document may cost."""

    file_bytes: int
    nodes: int
    chars: int
    what: str  # named in the error: "a scenario file", "a recording"


SCENARIO = Budget(MAX_FILE_BYTES, MAX_NODES, MAX_CHARS, "a scenario file")
RECORDING = Budget(MAX_RECORDING_BYTES, MAX_RECORDING_NODES, MAX_RECORDING_BYTES, "a recording")
_RECORDING_KEY = re.compile(r"^recording:", re.M)


def budget_for(head: str) -> Budget:
    """The budget of a document, from its first bytes: a recording's when it has a top-level
    ``recording:`` key there (``sselab record`` writes it before the pieces)."""
    return RECORDING if _RECORDING_KEY.search(head[:65_536]) else SCENARIO
