"""The terminal report: one progress line per check as it finishes and a closing verdict, or
(``--quiet``) the closing table alone: each check's result is printed once."""

from __future__ import annotations

import shutil
import textwrap

import click

from .model import CheckResult, Report

COLORS = {"pass": "green", "warn": "yellow", "skip": "cyan", "fail": "red", "error": "magenta"}


def badge(verdict: str, color: bool) -> str:
    text = f"{verdict.upper():5}"
    return click.style(text, fg=COLORS.get(verdict), bold=True) if color else text


def progress_line(result: CheckResult, color: bool = False) -> str:
    return f"  {badge(result.verdict, color)} {result.name:<17} {result.duration:5.1f} s  " \
           f"{result.message}"


def table(report: Report, color: bool = False, width: int | None = None) -> str:
    """The closing summary: check, verdict, time, and the message wrapped to the terminal."""
    width = width or shutil.get_terminal_size((110, 24)).columns
    name_w = max([len(r.name) for r in report.results] + [5])
    lead = name_w + 2 + 7 + 2 + 7 + 2  # name, verdict, time, and their gaps
    wrap = max(30, width - lead)
    lines = [f"{'CHECK':<{name_w}}  {'VERDICT':7}  {'TIME':>7}  RESULT",
             "-" * min(width, lead + wrap)]
    for r in report.results:
        msg = textwrap.wrap(r.message, wrap) or [""]
        lines.append(f"{r.name:<{name_w}}  {badge(r.verdict, color)}    {r.duration:5.1f} s  "
                     f"{msg[0]}")
        lines += [" " * lead + m for m in msg[1:]]
    lines.append("-" * min(width, lead + wrap))
    lines.append(summary(report, width))
    if report.preflight:
        lines += textwrap.wrap(f"preflight: {report.preflight}", width)
    return "\n".join(lines)


def summary(report: Report, width: int | None = None) -> str:
    """The closing verdict: ``OK: 9 pass in 12.3 s against URL``."""
    width = width or shutil.get_terminal_size((110, 24)).columns
    counts = ", ".join(f"{n} {v}" for v, n in report.counts().items() if n)
    verdict = "OK" if report.ok else "FAILED"
    return "\n".join(textwrap.wrap(f"{verdict}: {counts or 'no checks'} in "
                                   f"{report.duration:.1f} s against {report.endpoint}", width))
