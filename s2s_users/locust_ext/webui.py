"""The "Sessions" tab of the Locust web UI, through Locust's own extension points.

- ``template_args["extended_tabs"/"extended_tables"]`` add the tab and its table (the seed-style table, live);
  its rows ride on ``/stats/requests`` as ``extended_stats``, so they refresh with Locust's own polling.
- The start form's fields for our options are typed and checked by ``webform`` before Locust sees them, and
  secret options are served empty (their values never reach the browser).
- Routes on Locust's Flask app serve what a table cannot: ``/s2s/live`` (survival curve, failure taxonomy over
  time, taxonomy counts; it refreshes itself), ``/s2s/live.json`` (the same data), and ``/s2s/tab.js``, which the
  index page loads to show ``/s2s/live`` inside the Sessions tab, under the table.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import Any

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.lag import LATE_P99_MS
from s2s_users.core.metrics.live import LiveView
from s2s_users.core.reporting.html import html_table
from s2s_users.core.reporting.plots import survival_svg_from, timeline_svg
from s2s_users.locust_ext.webform import form_values, hide_secrets, is_ours

TAB_KEY = "s2s-sessions"
TABLE_STRUCTURE = [
    {"key": "model", "title": "Model"},
    {"key": "active", "title": "Active sessions"},
    {"key": "sessions", "title": "Sessions ended"},
    {"key": "turns", "title": "Turns"},
    {"key": "median_turn_audio", "title": "Median per-turn"},
    {"key": "p95_turn_audio", "title": "P95 per-turn"},
    {"key": "audio_minutes", "title": "Total assistant audio"},
    {"key": "capacity", "title": "Capacity to silent failure"},
    {"key": "silent_failures", "title": "Silent failures"},
    {"key": "ttfa", "title": "TTFA p50 / p95"},
]
REFRESH_MS = 3000

TAB_SCRIPT = """// s2s_users: show the live charts under the Sessions table while that tab is open.
(function () {
  function sessionsTabOpen() {
    return new URLSearchParams(window.location.search).get("tab") === "__TAB_KEY__";
  }
  function sync() {
    var frame = document.getElementById("s2s-live");
    if (!sessionsTabOpen()) { if (frame) { frame.remove(); } return; }
    if (frame) { return; }
    var table = document.querySelector("table");
    if (!table || table.innerText.indexOf("Capacity to silent failure") < 0) { return; }
    frame = document.createElement("iframe");
    frame.id = "s2s-live";
    frame.src = "/s2s/live?embedded=1";
    frame.title = "s2s_users live charts";
    frame.style.cssText = "width:100%;height:1150px;border:0;margin-top:16px;background:#fff";
    var container = table.closest(".MuiTableContainer-root") || table.parentElement;
    container.insertAdjacentElement("afterend", frame);
  }
  window.setInterval(sync, 500);
})();
""".replace("__TAB_KEY__", TAB_KEY)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>s2s_users live</title>
<style>
body{font-family:system-ui,sans-serif;margin:12px;color:#222;background:#fff}
h2{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:13px}
td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}
tr.silent td:first-child{color:#b00020;font-weight:600}
#updated{color:#777;font-size:12px}
.late{border-left:4px solid #b00020;padding:6px 12px;background:#fce8e6;font-weight:600}
svg{max-width:100%;height:auto}
</style></head>
<body>
<div id="panel">__PANEL__</div>
<script>
window.setInterval(function () {
  fetch("/s2s/live/panel").then(function (r) { return r.text(); }).then(function (text) {
    document.getElementById("panel").innerHTML = text;
  }).catch(function () {});
}, __REFRESH_MS__);
</script>
</body></html>
"""


def render_pacing(view: LiveView) -> str:
    """The generator's own clock: chunk lag so far, and a warning when a worker could not keep it."""
    run, workers = view.pacing_figures()
    if not run.chunks:
        return ""
    text = (
        f"Pacing lag per prompt chunk: p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, max {run.max_ms:.1f} ms "
        f"({run.chunks} chunks)."
    )
    line = f'<p id="s2s-pacing">{html.escape(text)}</p>'
    late = [f"{worker} (p99 {figures.p99_ms:.0f} ms)" for worker, figures in workers if figures.late]
    if not (late or run.late):
        return line
    where = f" on {', '.join(late)}" if late else ""
    warning = (
        f"The load generator is falling behind{where}: prompt chunks go out more than {LATE_P99_MS:g} ms late "
        "(p99). What the server hears and the latencies measured are not to be trusted: add workers or run fewer "
        "users per worker."
    )
    return f'<p class="late" id="s2s-late">{html.escape(warning)}</p>{line}'


def render_panel(view: LiveView, updated: str) -> str:
    """The live charts and taxonomy counts as an HTML fragment (inline SVG)."""
    taxonomy = view.taxonomy_rows()
    rows: list[tuple[str, ...]] = [(row["code"], row["silent"], str(row["count"])) for row in taxonomy]
    table = (
        html_table((("Failure class", "Kind", "Count"), rows), [row["silent"] for row in taxonomy])
        if taxonomy
        else "<p>No failures so far.</p>"
    )
    lost = f"<p>{view.lost_sessions} sessions lost with their worker (censored).</p>" if view.lost_sessions else ""
    timeline = view.timeline
    return (
        f'<p id="updated">updated {html.escape(updated)}</p>{render_pacing(view)}'
        "<h2>Capacity to silent failure (Kaplan–Meier, censored sessions marked +)</h2>"
        f'<div id="s2s-survival">{survival_svg_from(view.survival_rows())}</div>'
        "<h2>Failures over time</h2>"
        f'<div id="s2s-timeline">{timeline_svg(timeline.rows(), timeline.width_s)}</div>'
        f'<h2>Failure taxonomy</h2><div id="s2s-taxonomy">{table}</div>{lost}'
    )


def install(
    web_ui: Any,
    view: Callable[[], LiveView],
    now: Callable[[], str],
    started_with: Mapping[str, Any],
    accept: Callable[[dict[str, Any]], None],
) -> None:
    """Add the Sessions tab and its routes to Locust's web UI, and take over the start form's fields for our options.

    ``view`` gives the current live view; ``started_with`` holds our options as the process started;
    ``accept`` checks and applies typed option values from the start form (raising ``ConfigError``).
    """
    from flask import Response, jsonify, request
    from werkzeug.datastructures import ImmutableMultiDict

    web_ui.template_args["extended_tabs"] = [{"title": "Sessions", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": TABLE_STRUCTURE}]
    app = web_ui.app
    update_template_args = web_ui.update_template_args

    def _template_args_without_secrets() -> None:
        # Locust rebuilds the form's defaults from the command line and environment on every page load.
        update_template_args()
        hide_secrets(web_ui.template_args.get("extra_options") or {})
        run_id = web_ui.template_args.get("extra_options", {}).get("run_id")
        if run_id is not None:
            run_id["default_value"] = started_with["run_id"]

    web_ui.update_template_args = _template_args_without_secrets
    _template_args_without_secrets()

    def _start_form() -> Response | None:
        if request.method != "POST" or request.endpoint != "locust.swarm":
            return None
        try:
            accept(form_values(request.form.items(multi=True), started_with))
        except ConfigError as exc:
            return jsonify({"success": False, "message": f"error: {exc}", "host": web_ui.environment.host})
        # Locust would apply our fields again as raw strings: it gets the form without them.
        request.form = ImmutableMultiDict([(k, v) for k, v in request.form.items(multi=True) if not is_ours(k)])
        return None

    def _extend(response: Response) -> Response:
        if request.path == "/stats/requests" and response.is_json:
            data = response.get_json()
            data["extended_stats"] = [{"key": TAB_KEY, "data": view().table_rows()}]
            response.set_data(json.dumps(data))
        elif request.path == "/" and response.mimetype == "text/html" and not response.direct_passthrough:
            page = response.get_data(as_text=True)
            if "</body>" in page and "/s2s/tab.js" not in page:
                response.set_data(page.replace("</body>", '<script src="/s2s/tab.js"></script></body>', 1))
        return response

    def _tab_script() -> Response:
        return Response(TAB_SCRIPT, mimetype="application/javascript")

    def _live_page() -> Response:
        page = PAGE.replace("__REFRESH_MS__", str(REFRESH_MS)).replace("__PANEL__", render_panel(view(), now()))
        return Response(page, mimetype="text/html")

    def _live_panel() -> Response:
        return Response(render_panel(view(), now()), mimetype="text/html")

    def _live_json() -> Response:
        return Response(json.dumps(view().snapshot(), allow_nan=False), mimetype="application/json")

    app.before_request(_start_form)
    app.after_request(_extend)
    app.add_url_rule("/s2s/tab.js", "s2s_tab_script", _tab_script)
    app.add_url_rule("/s2s/live", "s2s_live_page", _live_page)
    app.add_url_rule("/s2s/live/panel", "s2s_live_panel", _live_panel)
    app.add_url_rule("/s2s/live.json", "s2s_live_json", _live_json)
