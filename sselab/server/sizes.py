"""Sizes in bytes as people write them: ``256MB``, ``1GiB``, ``64 mb``."""

from __future__ import annotations

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str | int) -> int:
    """``"256MB"``, ``"1GiB"``, ``"64 mb"``, ``1048576`` as bytes (KB/MB/GB are powers of 1000,
    KiB/MiB/GiB of 1024); a clear ValueError otherwise."""
    if isinstance(text, int):
        value = text
    else:
        s = text.strip().lower().replace(" ", "").replace("_", "")
        num = s.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = s[len(num):]
        try:
            value = int(float(num) * _UNITS[unit])
        except (ValueError, KeyError):
            raise ValueError(f"not a size: {text!r} (say e.g. 256MB, 1GiB or a number of "
                             "bytes)") from None
    if value <= 0:
        raise ValueError(f"a size must be positive, not {text!r}")
    return value


def format_size(n: int) -> str:
    """Bytes in the largest unit that divides them (``256 MiB``, ``64 MB``), else about."""
    units = (("GB", 10**9), ("GiB", 2**30), ("MB", 10**6), ("MiB", 2**20), ("kB", 10**3),
             ("KiB", 2**10))
    for unit, size in sorted(units, key=lambda u: -u[1]):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    for unit, size in units[::2]:
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"
