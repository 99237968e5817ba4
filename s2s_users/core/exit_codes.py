"""The process's exit code, for CI: one table, one pure decision.

| code | meaning |
| --- | --- |
| 0 | the run completed and every given gate passed |
| 3 | a gate failed (``--check-*``) |
| 2 | bad configuration (an option, the prompts, InfluxDB refused at start-up) |
| 1 | the harness itself broke: an unhandled exception, too many lost sessions, nothing measured, or the run's
  records or report could not be written (a full disk) |

A run whose records or report could not be written exits 1 with or without gates: its files are incomplete, and
CI must not take it for a pass.

"Too many lost sessions": more sessions lost with their worker than ``--max-lost-sessions`` (a gated run that does
not say allows none). Code 1 wins over 3: when the generator broke, its gate results are not to be trusted.

A run is *gated* when a ``--check-*`` gate or ``--max-lost-sessions`` is given; then this table decides, whatever
turns failed (finding failures is what the tool is for). Without gates Locust's own rule stays: 0, or
``--exit-code-on-error`` (default 1) when any request failed or any exception was raised.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    OK = 0
    HARNESS_BROKE = 1
    BAD_CONFIGURATION = 2
    GATE_FAILED = 3


@dataclass(frozen=True, slots=True)
class RunHealth:
    """What the harness knows about itself at the end of a run."""

    sessions: int
    lost_sessions: int
    user_exceptions: int
    unhandled_errors: bool = False
    write_errors: tuple[str, ...] = ()
    """What could not be written to the report folder, one line each (``sessions.jsonl: ...``)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    code: ExitCode
    reasons: tuple[str, ...]


def harness_problems(health: RunHealth, max_lost_sessions: int | None) -> list[str]:
    """Why the harness's own numbers cannot be trusted (empty: they can)."""
    problems = []
    if health.sessions == 0:
        problems.append("no session finished: nothing was measured")
    allowed = max_lost_sessions or 0
    if health.lost_sessions > allowed:
        problems.append(
            f"{health.lost_sessions} sessions were lost with their worker, more than --max-lost-sessions {allowed}"
        )
    if health.user_exceptions:
        problems.append(f"{health.user_exceptions} unhandled exceptions in users (see Locust's Exceptions tab)")
    if health.unhandled_errors:
        problems.append("an unhandled error in the harness (see the log)")
    problems.extend(f"not written: {error}" for error in health.write_errors)
    return problems


def verdict(gated: bool, gate_failures: list[str], health: RunHealth, max_lost_sessions: int | None) -> Verdict | None:
    """The exit code of a gated run and why; None for a run without gates (Locust's rule stays), unless its records
    or report could not be written."""
    if not gated:
        if health.write_errors:
            return Verdict(ExitCode.HARNESS_BROKE, tuple(f"not written: {e}" for e in health.write_errors))
        return None
    problems = harness_problems(health, max_lost_sessions)
    if problems:
        return Verdict(ExitCode.HARNESS_BROKE, tuple(problems))
    if gate_failures:
        return Verdict(ExitCode.GATE_FAILED, tuple(gate_failures))
    return Verdict(ExitCode.OK, ())
