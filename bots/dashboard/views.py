"""The dashboard's web application (aiohttp, Jinja2 autoescaped), on a listener of its own: the
login form (and the SSO way through the homeserver), the Today page and its CSV, logout, and what
every answer carries (the Indicators page's routes: indicator_views.py).

- Every response: `Cache-Control: no-store` (pages name patients), a CSP that allows only this
  origin's stylesheet and forms (no script at all), no framing, no referrer.
- Every form carries a CSRF token (login: signed double-submit; then the session's, derived
  from its ID) checked in constant time; a form posted from another origin is refused.
- Each page finds the session (server-side, `records.py`) and asks `permissions.check_anywhere`
  again: a role removed from every team closes the dashboard at the next click.
- Malformed requests get a 4xx page saying why; nothing about a patient is logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bots.common import capabilities as cap
from bots.common import permissions
from bots.common.models import COORDINATION, PATIENT
from bots.common.render import when
from bots.common.roles import Roles
from bots.config import DashboardConfig
from bots.dashboard import records
from bots.dashboard.indicator_views import IndicatorPages
from bots.dashboard.login import (
    LoginFailed,
    check_login_token,
    check_password,
    offers_sso,
    user_id_of,
)
from bots.dashboard.session import Lifetime, LoginForms, RateLimit, csrf_token, same
from bots.dashboard.today import TABLES, Today, patient_lines, today_csv, today_of
from bots.episode.figures import FiguresReader, MailCounter
from bots.episode.followup_work import FollowupReader
from bots.episode.progress import ProgressReader
from bots.logs import failure
from bots.runtime.i18n import Lang, Refusal, accepted, t
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# A person may try a few passwords a minute; one address (a ward's shared PC, the proxy when
# X-Forwarded-For is not trusted) a few more.
PER_USER, PER_ADDRESS, WINDOW = 5, 20, 60.0
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    # Not no-referrer: under it a browser posts forms with `Origin: null`, which the origin
    # check refuses; same-origin still sends nothing to other sites.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# matplotlib's SVG charts style their shapes inline: allowed in an image, never in the pages.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _text(lang: Lang, key: str, /, **values: object) -> Markup:
    """A catalogue text in a template: already escaped (its values are), so marked safe."""
    return Markup(t(lang, key, **values))


@cache
def pages() -> Environment:
    """The templates, every value autoescaped (patient names are data, not markup)."""
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(template: str, lang: Lang, **values: Any) -> str:
    return pages().get_template(template).render(
        **{"user": None, "csrf": "", **values}, lang=lang, t=partial(_text, lang),
        day=partial(when, lang))


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


class Dashboard:
    """The pages of one care-team account: its records, its database, its server's users."""

    def __init__(self, runtime: Runtime, settings: DashboardConfig, roles: Roles,
                 progress: ProgressReader, followup: FollowupReader,
                 http: aiohttp.ClientSession, figures: FiguresReader | None = None,
                 mails: MailCounter | None = None) -> None:
        self.runtime, self.settings, self.progress, self.http = runtime, settings, progress, http
        self.followup, self.zone = followup, ZoneInfo(runtime.config.timezone)
        self.indicators = IndicatorPages(self, figures, mails, self.zone) \
            if figures is not None and mails is not None else None
        self.permission = roles.permission(cap.DASHBOARD_VIEW, COORDINATION, PATIENT)
        self.lifetime = Lifetime(timedelta(minutes=settings.idle_minutes),
                                 timedelta(hours=settings.max_hours))
        # Keyed by the data keys, so a form (or an SSO state) issued by one bots process behind
        # the proxy is good at the other (docs/SCALING.md, two processes).
        self.forms = LoginForms(runtime.store.vault.purpose_key("dashboard login forms"))
        self.by_user = RateLimit(PER_USER, WINDOW)
        self.by_address = RateLimit(PER_ADDRESS, WINDOW)
        self.server_name = runtime.user_id.split(":", 1)[1]
        self.homeserver = settings.login_homeserver or runtime.config.homeserver
        public = urlsplit(settings.public_url)
        self.origin = f"{public.scheme}://{public.netloc}"
        # __Host-: only this origin, over HTTPS, may set it (no cookie planted by a sibling host).
        prefix = "__Host-" if settings.secure_cookies else ""
        self.session_cookie, self.login_cookie = f"{prefix}liaison", f"{prefix}liaison-login"
        self.sso_cookie = f"{prefix}liaison-sso"
        self.sso: bool | None = None  # the homeserver offers m.login.sso (asked once it answers)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=16 * 1024)
        app.router.add_get("/", self.today)
        app.router.add_get("/today/{table}.csv", self.today_export)
        app.router.add_get("/login", self.login_form)
        app.router.add_post("/login", self.login)
        app.router.add_post("/logout", self.logout)
        app.router.add_get("/login/sso", self.sso_start)
        app.router.add_get("/login/sso/back", self.sso_back)
        app.router.add_get("/static/dashboard.css", self.stylesheet)
        if self.indicators is not None:
            self.indicators.add_routes(app.router)
        return app

    # --- what every answer goes through ----------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.method == "POST" and request.headers.get("Origin", self.origin) \
                    != self.origin:
                response: web.StreamResponse = self._forged(request)
            else:
                response = await handler(request)
        except web.HTTPException as exc:  # the router's 404 and 405, a body too large (413)
            response = self._error(request, exc.status, "dash.error.not_found") \
                if exc.status == 404 else \
                self._error(request, exc.status, "dash.error.bad_request", why=exc.reason)
        except Exception as exc:
            # Only our routes' handlers raise: the path is one of theirs, never typed data.
            log.error("dashboard page failed", extra={"path": request.path,
                                                      "failure": failure(exc)})
            response = self._error(request, 500, "dash.error.internal")
        response.headers.update(HEADERS)
        if response.content_type == "image/svg+xml":
            response.headers["Content-Security-Policy"] = SVG_POLICY
        if self.settings.secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    def lang(self, request: web.Request) -> Lang:
        return accepted(request.headers.get("Accept-Language", ""), self.runtime.config.language)

    def _page(self, request: web.Request, template: str, status: int = 200,
              **values: Any) -> web.Response:
        return web.Response(text=render(template, self.lang(request), **values), status=status,
                            content_type="text/html")

    def _error(self, request: web.Request, status: int, key: str, **values: Any) -> web.Response:
        lang = self.lang(request)
        return self._page(request, "refused.html", status, title=t(lang, "dash.error.title"),
                          message=_text(lang, key, **values), hint=None, back="/")

    def _forged(self, request: web.Request) -> web.Response:
        lang = self.lang(request)
        return self._page(request, "refused.html", 403, title=t(lang, "dash.error.title"),
                          message=_text(lang, "dash.forged"), hint=None, back="/login")

    def _address(self, request: web.Request) -> str:
        forwarded = request.headers.get("X-Forwarded-For")
        if self.settings.trust_forwarded_for and forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()  # the one our proxy added
        return request.remote or "unknown"

    async def _form(self, request: web.Request, *names: str) -> dict[str, str]:
        """The form's text fields (a missing one empty), or a 400 for what cannot be read."""
        try:
            form = await request.post()
        except (ValueError, UnicodeDecodeError, aiohttp.ClientError):
            raise web.HTTPBadRequest(reason="the form cannot be read") from None
        fields = {}
        for name in names:
            value = form.get(name, "")
            if not isinstance(value, str):
                raise web.HTTPBadRequest(reason=f"the field {name} must be text")
            fields[name] = value
        return fields

    # --- sessions ----------------------------------------------------------------------------

    async def _session(self, request: web.Request) -> tuple[str | None, str | None]:
        """(user, session token) of a live session; (None, the stale cookie's token) or
        (None, None) without one."""
        token = request.cookies.get(self.session_cookie)
        if not token:
            return None, None
        async with self.runtime.transaction() as tx:
            user = await records.session_user(tx, token, self.lifetime, utcnow())
        return user, token

    def _set_cookie(self, response: web.Response, name: str, value: str,
                    max_age: int | None = None, samesite: str = "Strict") -> None:
        response.set_cookie(name, value, path="/", httponly=True, samesite=samesite,
                            secure=self.settings.secure_cookies, max_age=max_age)

    def _drop_cookie(self, response: web.Response, name: str) -> None:
        # A __Host- cookie is only replaced by one that is Secure too.
        response.del_cookie(name, path="/", secure=self.settings.secure_cookies)

    def _to_login(self, ended: str | None) -> web.Response:
        response = _see_other(f"/login?session={ended}" if ended else "/login")
        self._drop_cookie(response, self.session_cookie)
        return response

    def _reading(self) -> AbstractAsyncContextManager[Transaction]:
        """A read-only transaction on the care-team account's records."""
        return self.runtime.store.reading(self.runtime.user_id)

    async def _refusal(self, tx: Transaction, user_id: str) -> permissions.Forbidden | None:
        callers = await permissions.standing(tx, user_id)
        return permissions.check_anywhere(self.permission, user_id, callers, "dash.forbidden")

    def _refused(self, request: web.Request, refusal: permissions.Forbidden,
                 user: str | None = None, token: str | None = None) -> web.Response:
        lang = self.lang(request)
        # Logged in (a role since removed): the bar's logout form; else back to the login form.
        return self._page(request, "refused.html", 403, title=t(lang, "dash.forbidden.title"),
                          message=Markup(refusal.text(lang)),
                          hint=_text(lang, "dash.forbidden.ask"),
                          back=None if user else "/login", user=user,
                          csrf=csrf_token(token) if token else "")

    # --- pages ---------------------------------------------------------------------------------

    async def _today(self, request: web.Request) -> tuple[str, str, Today] | web.Response:
        """(user, session token, what Today shows), or the answer instead: to the login page,
        or refused."""
        user, token = await self._session(request)
        if user is None or token is None:
            return self._to_login("ended" if token else None)
        now = utcnow()
        async with self._reading() as tx:
            refusal = await self._refusal(tx, user)
            if refusal is not None:
                return self._refused(request, refusal, user, token)
            lines = await patient_lines(tx, user, self.progress, self.followup,
                                        self.settings.element_url, now)
        return user, token, today_of(lines, now.astimezone(self.zone).date())

    async def today(self, request: web.Request) -> web.Response:
        found = await self._today(request)
        if isinstance(found, web.Response):
            return found
        user, token, page = found
        return self._page(request, "today.html", user=user, csrf=csrf_token(token), page=page)

    async def today_export(self, request: web.Request) -> web.Response:
        """A Today table as CSV (file numbers, never identity); no-store like every answer."""
        table = request.match_info["table"]
        if table not in TABLES:
            raise web.HTTPNotFound()
        found = await self._today(request)
        if isinstance(found, web.Response):
            return found
        _, _, page = found
        return web.Response(
            body=today_csv(page, table, self.lang(request)), content_type="text/csv",
            charset="utf-8", headers={"Content-Disposition":
                                      f'attachment; filename="today-{table}-{page.day}.csv"'})

    def _login_page(self, request: web.Request, status: int = 200, *, typed: str = "",
                    error: Markup | None = None, notice: Markup | None = None) -> web.Response:
        nonce, token = self.forms.issue()
        response = self._page(request, "login.html", status, typed=typed, error=error,
                              notice=notice, form_token=token, server=self.server_name,
                              sso=bool(self.sso))
        self._set_cookie(response, self.login_cookie, nonce, max_age=3600)
        return response

    async def login_form(self, request: web.Request) -> web.Response:
        user, _ = await self._session(request)
        if user is not None:
            return _see_other("/")
        if self.sso is None:
            self.sso = await offers_sso(self.http, self.homeserver)
        lang = self.lang(request)
        ended = request.query.get("session")
        notice = {"ended": _text(lang, "dash.login.expired"),
                  "closed": _text(lang, "dash.login.logged_out")}.get(ended or "")
        return self._login_page(request, notice=notice)

    async def login(self, request: web.Request) -> web.Response:
        lang = self.lang(request)
        form = await self._form(request, "csrf", "user", "password")
        if not self.forms.valid(request.cookies.get(self.login_cookie), form["csrf"]):
            return self._forged(request)
        typed = form["user"].strip()
        if not typed or not form["password"]:
            return self._login_page(request, 400, typed=typed,
                                    error=_text(lang, "dash.login.missing"))
        try:
            user_id = user_id_of(typed, self.server_name)
        except Refusal as exc:
            return self._login_page(request, 400, typed=typed, error=Markup(exc.text(lang)))
        address, now = self._address(request), time.monotonic()
        key = user_id.lower()
        if self.by_user.blocked(key, now) or self.by_address.blocked(address, now):
            log.warning("dashboard login limited", extra={"address": address})
            response = self._login_page(request, 429, typed=typed,
                                        error=_text(lang, "dash.login.limited"))
            wait = max(self.by_user.retry_after(key, now),
                       self.by_address.retry_after(address, now))
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        self.by_user.record(key, now)
        self.by_address.record(address, now)
        try:
            user_id = await check_password(self.http, self.homeserver, user_id, form["password"])
        except LoginFailed as exc:
            # What was typed is not logged: it may be anything (a patient's name by mistake).
            log.info("dashboard login refused", extra={"why": exc.why, "address": address})
            status = {"wrong": 401, "limited": 429, "unavailable": 502}[exc.why]
            return self._login_page(request, status, typed=typed,
                                    error=_text(lang, f"dash.login.{exc.why}"))
        return await self._open(request, user_id, _see_other("/"))

    async def _open(self, request: web.Request, user_id: str,
                    response: web.Response) -> web.Response:
        """After the homeserver said who it is: the gate, then a new session on `response`."""
        async with self._reading() as tx:
            refusal = await self._refusal(tx, user_id)
        if refusal is not None:
            log.info("dashboard login refused", extra={"why": "no_role", "user_id": user_id})
            return self._refused(request, refusal)
        old = request.cookies.get(self.session_cookie)
        async with self.runtime.transaction() as tx:
            if old:
                await records.close_session(tx, old)
            token = await records.open_session(tx, user_id, self.lifetime, utcnow())
        log.info("dashboard login", extra={"user_id": user_id})
        self._set_cookie(response, self.session_cookie, token)
        self._drop_cookie(response, self.login_cookie)
        return response

    async def sso_start(self, request: web.Request) -> web.Response:
        """To the homeserver's SSO, which comes back to `sso_back` with a login token; the
        state (a signed nonce, its cookie Lax: the way back is a navigation from another
        site) ties the way back to this browser."""
        if self.sso is None:
            self.sso = await offers_sso(self.http, self.homeserver)
        if not self.sso:
            raise web.HTTPNotFound()
        nonce, state = self.forms.issue()
        back = f"{self.settings.public_url}/login/sso/back?state={state}"
        response = _see_other(f"{self.homeserver}/_matrix/client/v3/login/sso/redirect"
                              f"?redirectUrl={quote(back, safe='')}")
        self._set_cookie(response, self.sso_cookie, nonce, max_age=600, samesite="Lax")
        return response

    async def sso_back(self, request: web.Request) -> web.Response:
        if not self.forms.valid(request.cookies.get(self.sso_cookie),
                                request.query.get("state")):
            return self._forged(request)
        lang = self.lang(request)
        address, now = self._address(request), time.monotonic()
        if self.by_address.blocked(address, now):
            return self._login_page(request, 429, error=_text(lang, "dash.login.limited"))
        self.by_address.record(address, now)
        try:
            user_id = await check_login_token(self.http, self.homeserver,
                                              request.query.get("loginToken", ""))
        except LoginFailed as exc:
            log.info("dashboard sso login refused", extra={"why": exc.why, "address": address})
            status = {"wrong": 401, "limited": 429, "unavailable": 502}[exc.why]
            key = "dash.login.sso_failed" if exc.why == "wrong" else f"dash.login.{exc.why}"
            return self._login_page(request, status, error=_text(lang, key))
        # A page that moves on by itself: the session cookie is SameSite=Strict, and a
        # redirect would still belong to the navigation that came from the homeserver's site.
        response = await self._open(request, user_id, self._page(request, "signed_in.html"))
        self._drop_cookie(response, self.sso_cookie)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        form = await self._form(request, "csrf")
        token = request.cookies.get(self.session_cookie)
        if not token:
            return self._to_login(None)
        if not same(csrf_token(token), form["csrf"]):
            return self._forged(request)
        async with self.runtime.transaction() as tx:
            await records.close_session(tx, token)
        return self._to_login("closed")

    async def stylesheet(self, _request: web.Request) -> web.Response:
        return web.Response(text=(HERE / "static" / "dashboard.css").read_text(),
                            content_type="text/css")


def dashboard_service(progress: ProgressReader, followup: FollowupReader,
                      figures: FiguresReader | None = None, mails: MailCounter | None = None,
                      ) -> Callable[[Runtime], Awaitable[None]]:
    """The dashboard as a runtime service of the care-team bot's account (its records, its
    database), listening until cancelled."""
    async def serve(runtime: Runtime) -> None:
        settings = runtime.config.dashboard
        assert settings is not None
        roles = Roles.load(runtime.config.careteam.roles_file)
        async with aiohttp.ClientSession() as http:
            dashboard = Dashboard(runtime, settings, roles, progress, followup, http, figures,
                                  mails)
            runner = web.AppRunner(dashboard.app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.host, settings.port).start()
            ahead = asyncio.create_task(dashboard.indicators.keep_warm()) \
                if dashboard.indicators is not None else None
            log.info("dashboard listening", extra={"host": settings.host, "port": settings.port,
                                                   "url": settings.public_url})
            try:
                await asyncio.Event().wait()
            finally:
                if ahead is not None:
                    ahead.cancel()
                await runner.cleanup()
    return serve
