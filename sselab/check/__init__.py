"""``sselab check``: a chaos-test battery for a team's own streaming endpoint.

The simulator sits upstream of the endpoint (it sees when the team's server aborts its provider
call and how far ahead it reads); sselab's client sits downstream (it sees what the user would
see, and when). Each check is one module in ``checks/``, registered by name::

    async with Simulator(port=8787) as sim:            # the app uses it as its provider
        report = await run_checks(Target("http://127.0.0.1:8000/api/chat"), sim)
    assert report.ok, report.summary()
"""

from . import tcp_queues
from .checks import Check, check, checks
from .context import CheckContext, Expected
from .extract import Extractor, Piece
from .model import CheckResult, Lane, Marker, Report, Timeline
from .report_html import to_html
from .report_junit import to_xml
from .report_text import table
from .runner import run_checks, run_checks_sync, select
from .target import Settings, Target

__all__ = [
    "Check",
    "CheckContext",
    "CheckResult",
    "Expected",
    "Extractor",
    "Lane",
    "Marker",
    "Piece",
    "Report",
    "Settings",
    "Target",
    "Timeline",
    "check",
    "checks",
    "run_checks",
    "run_checks_sync",
    "select",
    "table",
    "tcp_queues",
    "to_html",
    "to_xml",
]
