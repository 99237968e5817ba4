"""Report rendering: Markdown for report.md, aligned text for the terminal. No computation here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from s2s_users.core.metrics.lag import LATE_P99_MS
from s2s_users.core.reporting.run_info import RunInfo, header_rows
from s2s_users.core.reporting.summary import FailedSessionRow, ModelRow, Report

SEED_COLUMNS = (
    "Model",
    "Turns completed",
    "Median per-turn",
    "P95 per-turn",
    "Total assistant audio",
    "Capacity to silent failure",
    "Silent failures",
)


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.2f}"


def _capacity(row: ModelRow, with_ci: bool) -> str:
    if row.silent_capacity_median_s is None:
        return "not reached (censored)"
    text = f"{row.silent_capacity_median_s / 60:.2f} min"
    low, high = row.silent_capacity_ci
    if with_ci:
        text += f" (95% CI {_minutes(low)}–{_minutes(high)})"
    return text


def turns_cell(row: ModelRow) -> str:
    """Turns completed over turns planned (``--turns until-failure`` plans none: it plays on to the failure)."""
    if row.turns_planned:
        return f"{row.turns_completed} / {row.turns_planned}"
    return f"{row.turns_completed} (until failure)"


def _seed_cells(row: ModelRow, with_ci: bool) -> tuple[str, ...]:
    return (
        row.model,
        f"{row.turns_completed} / {row.turns_planned}"
        if row.turns_planned
        else f"{row.turns_completed} (until failure)",
        _s(row.median_turn_audio_s),
        _s(row.p95_turn_audio_s),
        f"{row.total_audio_min:.2f} min",
        _capacity(row, with_ci),
        f"{row.silent_failure_sessions} / {row.sessions}",
    )


Table = tuple[tuple[str, ...], list[tuple[str, ...]]]


def seed_table(report: Report) -> Table:
    return SEED_COLUMNS, [_seed_cells(row, with_ci=True) for row in report.models]


def capacity_table(report: Report) -> Table:
    """Per model: whether the capacity to silent failure is measured or a lower bound, and what it rests on."""
    header = ("Model", "Capacity to silent failure", "Basis", "Rests on")
    rows: list[tuple[str, ...]] = []
    for row in report.models:
        bounded = f", {row.bounded_sessions} ended at the safety bound" if row.bounded_sessions else ""
        censored = f"{row.censored_sessions} censored{bounded}"
        if row.silent_capacity_median_s is not None:
            capacity = f"{row.silent_capacity_median_s / 60:.2f} min"
            rests = f"{row.silent_failure_sessions} of {row.sessions} sessions failed silently ({censored})"
        else:
            capacity = f"more than {row.silent_capacity_lower_bound_s / 60:.2f} min"
            rests = f"{row.sessions} sessions, {row.silent_failure_sessions} failed silently ({censored})"
        rows.append((row.model, capacity, str(row.capacity_basis), rests))
    return header, rows


def detail_table(report: Report) -> Table:
    rows: list[tuple[str, ...]] = []
    for row in report.models:
        ttfa50 = "—" if row.ttfa_p50_ms is None else f"{row.ttfa_p50_ms:.0f} ms"
        ttfa95 = "—" if row.ttfa_p95_ms is None else f"{row.ttfa_p95_ms:.0f} ms"
        any_cap = (
            "not reached" if row.failure_capacity_median_s is None else f"{row.failure_capacity_median_s / 60:.2f} min"
        )
        rows.append((row.model, ttfa50, ttfa95, any_cap, f"${row.cost_usd:.2f}"))
    return ("Model", "TTFA p50", "TTFA p95", "Capacity to any failure (median)", "Estimated cost"), rows


def taxonomy_table(report: Report, code: Callable[[str], str] = str) -> Table:
    header = ("Code", "Silent", "Turns", "Sessions (first failure)", "Sessions (ended by)", "Meaning")
    rows: list[tuple[str, ...]] = [
        (
            code(t.code),
            "yes" if t.silent else "no",
            str(t.turns),
            str(t.first_failures),
            str(t.session_ends),
            t.explanation,
        )
        for t in report.taxonomy
    ]
    return header, rows


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _pair(low: float | None, high: float | None) -> str:
    return "—" if low is None and high is None else f"{_ms(low)} / {_ms(high)} ms"


def turn_taking_table(report: Report) -> Table:
    """Per model and turn mode: the latency a caller hears, the endpointing cost, unasked responses, barge-ins."""
    header = (
        "Model", "Turn mode", "Turns ok", "TTFA p50 / p95", "Audible p50 / p95", "Endpointing p50 / p95",
        "Unsolicited responses", "Barge-ins: stop p50 / p95", "Ignored",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = []
    for row in report.turn_taking:
        reasons = ", ".join(f"{reason} {count}" for reason, count in row.unsolicited_reasons.items())
        unsolicited = f"{row.unsolicited_responses}" + (f" ({reasons})" if reasons else "")
        barge_ins = (
            f"{row.barge_ins}: {_pair(row.stop_latency_p50_ms, row.stop_latency_p95_ms)}" if row.barge_ins else "0"
        )
        rows.append((
            row.model, row.turn_mode, str(row.turns), _pair(row.ttfa_p50_ms, row.ttfa_p95_ms),
            _pair(row.audible_p50_ms, row.audible_p95_ms), _pair(row.endpointing_p50_ms, row.endpointing_p95_ms),
            unsolicited, barge_ins, str(row.barge_ins_ignored),
        ))  # fmt: skip
    return header, rows


def _lag_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def pacing_table(report: Report) -> Table:
    header = ("Worker", "Chunks", "Lag p50", "Lag p99", "Lag max", "Kept its clock")
    rows: list[tuple[str, ...]] = [
        (
            row.worker,
            str(row.chunks),
            _lag_ms(row.p50_ms),
            _lag_ms(row.p99_ms),
            _lag_ms(row.max_ms),
            "no" if row.late else "yes",
        )
        for row in report.pacing
    ]
    return header, rows


def pacing_line(report: Report) -> str | None:
    """The run's chunk lag in one line, or None when the run folder has no pacing figures."""
    if not report.pacing:
        return None
    run = report.pacing[0]
    return (
        f"Pacing lag per prompt chunk: p50 {_lag_ms(run.p50_ms)}, p99 {_lag_ms(run.p99_ms)}, max {_lag_ms(run.max_ms)} "
        f"({run.chunks} chunks; turns cut by the end of the run left out)"
    )


def pacing_warning(report: Report) -> str | None:
    """What to tell the user when the load generator itself sent late; None when it kept its clock."""
    if not report.generator_late:
        return None
    where = f" on {', '.join(report.late_workers)}" if report.late_workers else ""
    return (
        f"WARNING: the load generator fell behind{where}: prompt chunk lag p99 above {LATE_P99_MS:g} ms. Its sends "
        "went out late, so what the server heard, and the latencies measured, are not to be trusted: add workers "
        "(--processes, more machines) or run fewer users per worker."
    )


def _opt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def arms_table(report: Report) -> Table:
    """The mitigation side by side: per model and arm, what rotation bought and what it cost."""
    header = (
        "Model", "Arm", "Sessions", "Turns completed", "Silent failures", "Capacity to silent failure", "Rotations",
        "TTFA p50 first turn after rotation / others", "Re-injected chars / billed text tokens", "Cost",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = [
        (
            row.model,
            row.arm,
            str(row.sessions),
            f"{row.turns_completed} / {row.turns_planned}",
            f"{row.silent_failure_sessions} / {row.sessions}",
            "not reached (censored)"
            if row.silent_capacity_median_s is None
            else f"{_minutes(row.silent_capacity_median_s)} min",
            str(row.rotations),
            f"{_opt_ms(row.ttfa_after_rotation_p50_ms)} / {_opt_ms(row.ttfa_other_p50_ms)}",
            f"{row.reinjected_chars} / {row.reinjected_tokens}",
            f"{row.cost_usd:.4f} USD",
        )  # fmt: skip
        for row in report.arms
    ]
    return header, rows


def warnings_table(report: Report) -> Table:
    """Every silent failure: how early the early warning fired, and the signals in the turns before it."""
    header = (
        "Model", "Session", "Failed at turn", "Capacity", "Warned at turn", "Lead (turns / audio)",
        "Input tokens first → before failure", "TTFA p50 first → last turns",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = [
        (
            row.model,
            row.session_id,
            str(row.failure_turn),
            f"{_minutes(row.capacity_s)} min",
            "not warned" if row.warning_turn is None else str(row.warning_turn),
            "—" if row.lead_turns is None else f"{row.lead_turns} turns / {row.lead_audio_s:.0f} s",
            f"{row.input_tokens_first} → {row.input_tokens_before_failure}",
            f"{_opt_ms(row.ttfa_first_p50_ms)} → {_opt_ms(row.ttfa_last_p50_ms)}",
        )  # fmt: skip
        for row in report.warnings
    ]
    return header, rows


def cost_table(report: Report) -> Table:
    header = ("Model", "Arm", "Sessions", "Responses", "Estimated cost", "Per minute of assistant audio")
    rows: list[tuple[str, ...]] = []
    for row in report.costs:
        per_minute = row.per_audio_minute_usd
        cost = f"{row.cost_usd:.4f} USD" if row.priced else "not priced (add it to --prices)"
        rows.append((
            row.model, row.arm or "—", str(row.sessions), str(row.turns), cost,
            "—" if per_minute is None else f"{per_minute:.4f} USD",
        ))  # fmt: skip
    rows.append(("All", "", str(sum(r.sessions for r in report.costs)), "", f"{report.cost_usd:.4f} USD", ""))
    return header, rows


FAILED_COLUMNS = ("Session", "Model", "First failure", "Turn", "Capacity", "Ended by", "Evidence")


def evidence_label(path: str) -> str:
    """A short name for an evidence file in a report row: ``flight``, ``turn 32 assistant``..."""
    name = path.rsplit("/", 1)[-1]
    if name == "flight.jsonl":
        return "flight"
    if name.startswith("turn-") and name.endswith(".wav"):
        number, _, who = name.removesuffix(".wav").removeprefix("turn-").partition("-")
        return f"turn {int(number)} {who}" if number.isdigit() else name
    return name


def failed_cells(row: FailedSessionRow) -> tuple[str, ...]:
    """A failed session's cells but its evidence (``evidence_cell``)."""
    return (
        row.session_id or "—",
        row.model,
        row.failure_class,
        "—" if row.failure_turn is None else str(row.failure_turn),
        f"{row.capacity_s / 60:.2f} min",
        row.end_class or "—",
    )


def evidence_cell(row: FailedSessionRow, link: Callable[[str, str], str], escape: Callable[[str], str] = str) -> str:
    """Links to a failed session's evidence files; ``link(label, path)`` makes one in the output's own markup."""
    files = ", ".join(link(evidence_label(path), path) for path in row.evidence) or "—"
    return files + (f" ({escape(row.evidence_note)})" if row.evidence_note else "")


def failed_intro(report: Report) -> str:
    shown = len(report.failed)
    more = f" (the first {shown} of {report.failed_sessions} shown)" if shown < report.failed_sessions else ""
    return (
        f"{report.failed_sessions} failed sessions{more}. Their evidence is in the run folder: the last wire events "
        "before the failure (flight) and the audio of the turn at the failure and the one before it."
    )


def _md_link(label: str, path: str) -> str:
    return f"[{label}]({path})"


def budget_title(report: Report, model: str) -> str:
    row = next((r for r in report.models if r.model == model), None)
    rests = "" if row is None else f" ({row.silent_failure_sessions} of {row.sessions} sessions failed silently)"
    return f"Turn budget: {model}, from the measured boundary{rests}"


def budget_table(budget: tuple[tuple[int, int], ...]) -> Table:
    return ("Assistant audio per turn", "Turns before the ceiling"), [(f"{n} s", f"about {t}") for n, t in budget]


HOW_TO_READ = (
    "**Turns completed**: turns that ended ok, over turns planned, summed over the model's sessions.",
    "**Median / P95 per-turn**: seconds of assistant audio per ok turn (decoded bytes, not wall time).",
    "**Total assistant audio**: minutes of assistant audio received over all sessions.",
    "**Capacity to silent failure**: Kaplan–Meier median of the assistant audio accumulated before a session's "
    "first silent failure; sessions without one are censored. 'not reached': fewer than half failed silently.",
    "**Silent failures**: sessions with a failure that gave no error signal, over sessions.",
    "**Measured or lower bound**: a capacity is *measured* when enough sessions failed silently for the median "
    "to be reached; otherwise it is a *lower bound*: the median of what the sessions reached before they were "
    "censored (the run's end, the script's end, or --turns until-failure's safety bound), which the true median "
    "capacity is at least.",
    "**Turn budget**: at N seconds of assistant audio per turn, how many turns fit before the measured ceiling "
    "(only for a measured capacity).",
    "**TTFA**: from the end of the user's audio (manual: our commit; server VAD: the end of the prompt's speech) to "
    "the first audio delta. **Audible**: to the first sample a caller hears (over the silence floor): TTFA plus "
    "the answer's leading silence. **Endpointing** (server VAD): from the end of the speech to the server's "
    "speech_stopped.",
    "**Unsolicited responses**: responses the server started on its own (vad_split: during the prompt; leftover: "
    "after the answer, on the audio a microphone keeps sending). Their audio counts in every total.",
    "**Barge-ins**: turns where the next prompt started over the answer; stop latency is how long the server kept "
    "streaming after our speech began; ignored: it streamed on to the end.",
    "**Arms** (session rotation): control sessions play one provider session; rotated ones move to a fresh session "
    "after --rotate-after of assistant audio, told a summary of the conversation. Capacity is measured per "
    "conversation; a rotation is never a failure. The first turn after a rotation shows the latency cost, the "
    "billed text tokens the cost of re-injecting summaries.",
    "**Early warning**: a session is warned once its provider session holds --warn-at of the expected capacity "
    "(--expected-capacity, or learned from the run's silent failures); lead: turns and audio left before the failure.",
    "**Cost**: estimated from the usage each response reports and the price table (--prices); not a bill.",
    "**Pacing lag**: how late each prompt chunk went out against its deadline (chunk k is due at t0 + k·chunk), "
    f"per worker; above {LATE_P99_MS:g} ms at p99 the generator could not keep its clock and its numbers are not to "
    "be trusted. Turns cut by the end of the run are left out.",
)


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table's lines; cells are shown with ``str``."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def _md_table(table: Table) -> list[str]:
    return markdown_table(*table)


def render_markdown(report: Report, info: RunInfo | None = None) -> str:
    lines = [f"# s2s_users report: run {', '.join(report.run_ids)}", "", f"{report.sessions} sessions.", ""]
    if (warning := pacing_warning(report)) is not None:
        lines += [f"**{warning}**", ""]
    if info is not None:
        lines += ["## The run", ""]
        rows = [(label, value.replace("|", "\\|")) for label, value in header_rows(info)]
        lines += markdown_table(("Item", "Value"), rows)
        lines += [""]
    lines += ["## Sessions per model", ""]
    lines += _md_table(seed_table(report))
    lines += [""]
    lines += _md_table(detail_table(report))
    lines += ["", "## Capacity: measured or lower bound", ""]
    lines += _md_table(capacity_table(report))
    lines += ["", "## Turn-taking", ""]
    lines += _md_table(turn_taking_table(report))
    lines += ["", "## Failure taxonomy", ""]
    lines += _md_table(taxonomy_table(report, code=lambda c: f"`{c}`"))
    for model, budget in report.budgets.items():
        lines += ["", f"## {budget_title(report, model)}", ""]
        lines += _md_table(budget_table(budget))
    if report.arms:
        lines += ["", "## Session rotation: arms side by side", ""]
        lines += _md_table(arms_table(report))
    if report.warnings:
        lines += ["", "## Early warning before each silent failure", ""]
        lines += _md_table(warnings_table(report))
    lines += ["", "## Cost", ""]
    lines += _md_table(cost_table(report))
    if report.failed:
        lines += ["", "## Failed sessions", "", failed_intro(report), ""]
        failed = [
            tuple(c.replace("|", "\\|") for c in (*failed_cells(row), evidence_cell(row, _md_link)))
            for row in report.failed
        ]
        lines += markdown_table(FAILED_COLUMNS, failed)
    if report.pacing:
        lines += ["", "## Load generator pacing", ""]
        lines += _md_table(pacing_table(report))
    lines += ["", "## How to read this", ""]
    lines += [f"- {line}" for line in HOW_TO_READ]
    lines += [""]
    return "\n".join(lines)


def render_text(report: Report, info: RunInfo | None = None) -> str:
    notes = [f"s2s: warning: {note}" for note in info.health.warnings()] if info is not None else []
    rows = [SEED_COLUMNS] + [_seed_cells(row, with_ci=False) for row in report.models]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SEED_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    _, capacities = capacity_table(report)
    lines += ["", "Capacity to silent failure:"]
    lines += [f"  {model}: {capacity}, {basis} ({rests})" for model, capacity, basis, rests in capacities]
    failures = [t for t in report.taxonomy if t.turns or t.first_failures or t.session_ends]
    if failures:
        lines += ["", "Failure taxonomy (turns / sessions first failing / sessions ended by):"]
        lines += [
            f"  {t.code:<28} {t.turns:>5} {t.first_failures:>5} {t.session_ends:>5}  "
            + ("silent" if t.silent else "visible")
            for t in failures
        ]
    for row in report.arms:
        lines.append(
            f"Arm {row.model} {row.arm}: {row.turns_completed}/{row.turns_planned} turns, "
            f"{row.silent_failure_sessions}/{row.sessions} sessions failed silently, {row.rotations} rotations"
        )
    lines.append(f"Estimated cost: {report.cost_usd:.4f} USD")
    if pacing := [line for line in (pacing_line(report), pacing_warning(report)) if line is not None]:
        lines += ["", *pacing]
    return "\n".join(lines + notes)
