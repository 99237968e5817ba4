"""The "Sessions" tab of the Locust web UI and its live charts, through Locust's documented extension points only.

- ``template_args["extended_tabs"/"extended_tables"]`` add the tab and its table (the seed-style table, live);
  its rows ride on ``/stats/requests`` as ``extended_stats``, so they refresh with Locust's own polling.
- ``template_args["extended_csv_files"]`` puts a link to the live charts in the Download Data tab.
- A Flask blueprint (Locust's documented way to add pages) serves ``/s2s/live``: a static page whose small script
  draws the charts as SVG in the browser from ``/s2s/live.json``, redrawing only the parts that changed. The master
  only serialises numbers: a JSON snapshot, or ``304 Not Modified`` when nothing changed (ETag), and nothing for a
  hidden browser tab. Its own event loop, which keeps the workers' heartbeats, never draws a chart.
- The start form's fields for our options are typed and checked by ``webform`` before Locust sees them, and
  secret options are served empty (their values never reach the browser).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.live import LiveView
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
    {"key": "unsolicited", "title": "Unsolicited responses"},
    {"key": "warnings", "title": "Capacity warnings"},
    {"key": "cost", "title": "Cost so far"},
    {"key": "ttfa", "title": "TTFA p50 / p95"},
]
LIVE_PAGE = "/s2s/live"
LIVE_LINK = {"href": "./s2s/live", "title": "Sessions: live charts (survival curve, failures over time)"}
STATIC = Path(__file__).resolve().parent / "static"


def locust_values(form: Mapping[str, str]) -> dict[str, Any]:
    """Locust's users and spawn rate as the start form asks for them (Locust checks and applies them itself)."""
    values: dict[str, Any] = {}
    for field, name, kind in (("user_count", "num_users", int), ("spawn_rate", "spawn_rate", float)):
        try:
            values[name] = kind(form[field])
        except (KeyError, ValueError):
            continue
    return values


def install(
    web_ui: Any,
    view: Callable[[], LiveView],
    started_with: Mapping[str, Any],
    accept: Callable[[dict[str, Any], dict[str, Any]], None],
) -> None:
    """Add the Sessions tab and its routes to Locust's web UI, and take over the start form's fields for our options.

    ``view`` gives the current live view; ``started_with`` holds our options as the process started;
    ``accept`` checks and applies typed option values from the start form (raising ``ConfigError``), given
    Locust's own values of the form as well.
    """
    from flask import Blueprint, Response, jsonify, request
    from werkzeug.datastructures import ImmutableMultiDict

    web_ui.template_args["extended_tabs"] = [{"title": "Sessions", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": TABLE_STRUCTURE}]
    web_ui.template_args["extended_csv_files"] = [LIVE_LINK]
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
            accept(form_values(request.form.items(multi=True), started_with), locust_values(request.form))
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
        return response

    pages = Blueprint("s2s", __name__, static_folder=str(STATIC), static_url_path="/s2s/static")

    @pages.route(LIVE_PAGE)
    def _live_page() -> Any:
        return pages.send_static_file("live.html")

    @pages.route("/s2s/live.json")
    def _live_json() -> Any:
        snapshot = {"columns": TABLE_STRUCTURE, **view().snapshot()}
        response = Response(json.dumps(snapshot, allow_nan=False), mimetype="application/json")
        response.add_etag()
        return response.make_conditional(request)

    app.before_request(_start_form)
    app.after_request(_extend)
    app.register_blueprint(pages)
