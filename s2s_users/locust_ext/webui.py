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
- ``--web-login`` (Locust's own flag) protects every page, Locust's and ours, with Locust's login page; the locustfile
  side Locust leaves to us (its login manager) takes one user and password from ``S2S_WEB_USER`` and
  ``S2S_WEB_PASSWORD``. Scripts may send the same as HTTP Basic credentials; without them, a browser is sent to the
  login page and anything else gets ``401``.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
LOGIN_SUBMIT = "/s2s/login"
WEB_USER_ENV = "S2S_WEB_USER"
WEB_PASSWORD_ENV = "S2S_WEB_PASSWORD"  # noqa: S105 - the variable's name, not a password

log = logging.getLogger("s2s_users")


@dataclass(frozen=True, slots=True)
class WebLogin:
    """The one user allowed into the web UI with ``--web-login``; the password never shows in a repr or a log."""

    user: str
    password: str = dataclasses.field(repr=False)

    def accepts(self, user: str | None, password: str | None) -> bool:
        user_ok = hmac.compare_digest((user or "").encode(), self.user.encode())
        password_ok = hmac.compare_digest((password or "").encode(), self.password.encode())
        return user_ok and password_ok


def web_login_from_env(enabled: bool, environ: Mapping[str, str] = os.environ) -> WebLogin | None:
    """``--web-login``'s credentials (``ConfigError`` when they are missing); None without ``--web-login``."""
    user, password = environ.get(WEB_USER_ENV, ""), environ.get(WEB_PASSWORD_ENV, "")
    if not enabled:
        if password:
            log.warning("s2s: %s is set but --web-login is not: the web UI is open to anyone who reaches it",
                        WEB_PASSWORD_ENV)  # fmt: skip
        return None
    if not user or not password:
        raise ConfigError(
            f"--web-login needs {WEB_USER_ENV} and {WEB_PASSWORD_ENV} in the environment (the one user and password"
            " of the web UI; never on the command line)"
        )
    return WebLogin(user, password)


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
    login: WebLogin | None = None,
) -> None:
    """Add the Sessions tab and its routes to Locust's web UI, and take over the start form's fields for our options.

    ``view`` gives the current live view; ``started_with`` holds our options as the process started;
    ``accept`` checks and applies typed option values from the start form (raising ``ConfigError``), given
    Locust's own values of the form as well. ``login``: the user of ``--web-login`` (see ``install_login``).
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
        if login is not None and not _signed_in():
            return None  # Locust's own check refuses it: nothing of an unauthenticated form is applied
        try:
            accept(form_values(request.form.items(multi=True), started_with), locust_values(request.form))
        except ConfigError as exc:
            log.warning("s2s: the start form was refused: %s", exc)
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

    if login is not None:
        install_login(web_ui, login)
        pages.before_request(lambda: None if _signed_in() else web_ui.login_manager.unauthorized())
    app.before_request(_start_form)
    app.after_request(_extend)
    app.register_blueprint(pages)


def _signed_in() -> bool:
    from flask_login import current_user

    return bool(current_user.is_authenticated)


def install_login(web_ui: Any, login: WebLogin) -> None:
    """The locustfile's side of Locust's ``--web-login``: its login page checks ``login``; so do HTTP Basic
    credentials (for scripts). Unauthenticated: a browser's page request goes to the login page, others get 401."""
    from flask import Blueprint, Response, redirect, request, session, url_for
    from flask_login import UserMixin, login_user

    class WebUser(UserMixin):  # type: ignore[misc]
        def __init__(self, user: str) -> None:
            self.id = user

    app = web_ui.app
    if not app.secret_key:
        app.secret_key = secrets.token_hex(32)  # signs the session cookie; a restart signs everyone out
    manager = web_ui.login_manager
    manager.user_loader(lambda user_id: WebUser(user_id) if hmac.compare_digest(user_id, login.user) else None)

    def _basic(req: Any) -> WebUser | None:
        auth = req.authorization
        if auth is not None and auth.type == "basic" and login.accepts(auth.username, auth.password):
            return WebUser(login.user)
        return None

    manager.request_loader(_basic)

    def _unauthorized() -> Any:
        # A browser's page request names text/html (scripts send */* or JSON): it gets the login page.
        if request.method == "GET" and any(kind == "text/html" for kind, _ in request.accept_mimetypes):
            return redirect(url_for("locust.login"))
        return Response("login required\n", 401, {"WWW-Authenticate": 'Basic realm="s2s_users web UI"'})

    manager.unauthorized_handler(_unauthorized)
    web_ui.auth_args = {**web_ui.auth_args, "username_password_callback": LOGIN_SUBMIT}
    auth = Blueprint("s2s_login", __name__)

    @auth.route(LOGIN_SUBMIT, methods=["POST"])
    def _login_submit() -> Any:
        if login.accepts(request.form.get("username"), request.form.get("password")):
            login_user(WebUser(login.user))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    app.register_blueprint(auth)
