"""Run the battery: a preflight request, then each selected check, one at a time.

The preflight asks the endpoint for one short answer and turns every way that can go wrong
before any check means anything (nothing listening, an error status, an HTML page, a single
JSON body, a stream sselab cannot read text from, an app not pointed at the simulator) into
one clear sentence; every check then reports ``error`` with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import traceback
from collections.abc import Callable, Iterable

from ..errors import ConfigError
from .checks import Check, checks
from .context import CheckContext, NoUpstream, SimulatorLike
from .model import CheckResult, Report
from .target import Settings, Target

Progress = Callable[[str, Check, CheckResult | None], None]  # ("start" | "done", check, result)

PREFLIGHT = {"name": "preflight", "response": {"text": "sselab preflight: hello from the "
                                                       "simulator."},
             "tokenize": "words", "timing": {"ttft_ms": 20, "token_ms": 10}}
NOT_STREAMS = ("text/html", "application/json", "application/xml", "text/xml")


def select(only: Iterable[str] | None = None, skip: Iterable[str] = ()) -> list[Check]:
    """The checks to run, in order; ConfigError naming ``--only``/``--skip`` for unknown names."""
    registry = checks()
    for option, names in (("--only", only or ()), ("--skip", skip)):
        unknown = [n for n in names if n not in registry]
        if unknown:
            raise ConfigError(f"{option}: unknown check {', '.join(map(repr, unknown))}; "
                              f"available: {', '.join(registry)}")
    wanted = list(only) if only else list(registry)
    return [c for name, c in registry.items() if name in wanted and name not in set(skip)]


async def preflight(sim: SimulatorLike, target: Target, settings: Settings,
                    ) -> tuple[str | None, str | None]:
    """(why the endpoint cannot be checked or None, the stream shape sselab recognised)."""
    ctx = CheckContext(sim, target, settings, "preflight", "Preflight")
    expected = ctx.use(PREFLIGHT)
    stream = await ctx.open()
    wait = settings.preflight_timeout
    await stream.finished(wait)
    trace = stream.trace
    called = bool(ctx.records(trace.started, expected.scenario))
    ctype = trace.content_type
    sample = trace.raw_sample[:160].decode("utf-8", "replace").strip()
    hint = f" (body: {sample!r})" if sample else ""
    if trace.status is None and trace.end == "timeout":
        return f"the endpoint accepted the connection but sent no response within {wait:g} s", \
            None
    if trace.status is None:
        return (trace.failure or "no response") + f" — is the app running at " \
                                                  f"{target.endpoint}?", None
    if trace.status >= 400:
        return f"the endpoint answered HTTP {trace.status} {trace.reason}{hint}; check " \
               "--endpoint, --method, --body and --header", None
    if ctype == "text/html":
        return f"the endpoint answered an HTML page (text/html), not a stream{hint}; check " \
               "--endpoint and --method", None
    not_called = (f"never called the simulator at {sim.base_url}; configure the app to use it "
                  f"as its provider, e.g. OPENAI_BASE_URL={sim.base_url}/v1")
    if ctype in NOT_STREAMS and target.extract == "auto":
        return (f"the endpoint answered one {ctype} body ({trace.body_bytes} bytes, "
                f"{trace.framing} framing): it does not stream{hint}"
                + ("" if called else f"; and it {not_called}")), None
    if not called:
        return f"the endpoint answered HTTP {trace.status} but {not_called}", None
    if trace.end == "timeout":
        return (f"no complete answer within {wait:g} s (got {len(trace.text)} characters of "
                "text); the stream must end when the answer does"), None
    if not trace.text:
        return (f"the endpoint streamed {trace.body_bytes} bytes ({ctype or 'no content type'})"
                f" but sselab found no answer text in them{hint}; pass --extract "
                "(text, sse-data, sse-json:PATH, openai, vercel)"), trace.shape
    return None, trace.shape


async def run_checks(target: Target, sim: SimulatorLike, *, only: Iterable[str] | None = None,
                     skip: Iterable[str] = (), settings: Settings | None = None,
                     progress: Progress | None = None) -> Report:
    """Run the selected checks against ``target`` whose app uses ``sim`` as its provider."""
    settings = settings or Settings()
    only = list(only) if only else None
    selected = select(only, skip)
    report = Report(target.endpoint, sim.base_url, started_at=time.time(),
                    settings=settings.to_json())
    t0 = time.monotonic()
    state = getattr(sim, "_state", None)  # restore the simulator's default scenario after
    previous = getattr(state, "default_scenario", None)
    try:
        report.preflight, report.shape = await preflight(sim, target, settings)
        for chk in selected:
            if report.preflight is not None:  # said once, in report.preflight
                report.results.append(CheckResult(chk.name, chk.title, "error",
                                                  "not run: the preflight failed"))
                continue
            if progress:
                progress("start", chk, None)
            result = await _run_one(chk, sim, target, settings,
                                    asked=only is not None and chk.name in only)
            report.results.append(result)
            if progress:
                progress("done", chk, result)
    finally:
        if state is not None and previous is not None:
            state.default_scenario = previous
    report.duration = time.monotonic() - t0
    return report


def _hard_limit(settings: Settings) -> float:
    return settings.stall_wait + settings.http_error_bound * 3 + 60.0


async def _run_one(chk: Check, sim: SimulatorLike, target: Target,
                   settings: Settings, asked: bool = False) -> CheckResult:
    ctx = CheckContext(sim, target, settings, chk.name, chk.title)
    ctx.asked = asked
    try:
        return await asyncio.wait_for(chk.run(ctx), _hard_limit(settings))
    except NoUpstream as exc:
        return exc.result
    except asyncio.TimeoutError:
        return ctx.result("error", f"the check did not finish within "
                                   f"{_hard_limit(settings):g} s")
    except Exception as exc:  # a bug in a check must not hide the other checks' verdicts
        return ctx.result("error", f"internal error in check {chk.name}: "
                                   f"{type(exc).__name__}: {exc}",
                          details=traceback.format_exc().splitlines())


def run_checks_sync(target: Target, sim: SimulatorLike, **kwargs: object) -> Report:
    """:func:`run_checks` from synchronous code (in a fresh event loop on a worker thread if
    this thread already runs one). ``sim`` must then be a :class:`~sselab.SimulatorThread`
    (or otherwise run its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_checks(target, sim, **kwargs))  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run_checks(target, sim, **kwargs)).result()  # type: ignore[arg-type]
