"""``/ui/login`` and ``/ui/logout``: a token in, a session cookie out (:mod:`..auth`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from runner.service.ui.auth import COOKIE, LOGIN_COOKIE, MAX_AGE
from runner.service.ui.pages.base import Page, PageError


def _next(target: str) -> str:
    """Only a path of these pages may follow the login (never another site)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") or target.startswith("//"):
        return "/ui/runs"
    return target


class Login(Page):
    authenticated = False

    def get(self) -> None:
        if self.session is not None:
            self.redirect(_next(self.get_argument("next", "/ui/runs")))
            return
        self._form()

    def _form(self, error: str | None = None, status: int = 200) -> None:
        nonce = self.ctx.signer.login_nonce()
        self.set_cookie(LOGIN_COOKIE, nonce, path="/ui/login", httponly=True, samesite="Strict",
                        secure=self.request.protocol == "https")
        self.page("login.html", status, login_csrf=self.ctx.signer.csrf("login:" + nonce), error=error,
                  next=_next(self.get_argument("next", "/ui/runs")), title="Log in")

    def post(self) -> None:
        address = self.request.remote_ip or "?"
        if self.ctx.limiter.blocked(address):
            raise PageError(429, "too many failed logins from this address: wait a minute and try again")
        nonce = self.get_cookie(LOGIN_COOKIE)
        if not self.ctx.signer.login_nonce_ok(nonce) or not self.ctx.signer.csrf_ok(
                "login:" + str(nonce), self.get_body_argument("_csrf", "")):
            self._form("the login form had expired: type the token again", 403)
            return
        token = self.ctx.signer.token_ok(self.get_body_argument("token", ""))
        if token is None:
            self.ctx.limiter.failed(address)
            self._form("that is not one of the service's API tokens ([api] tokens)", 401)
            return
        self.clear_cookie(LOGIN_COOKIE, path="/ui/login")
        self.set_cookie(COOKIE, self.ctx.signer.issue(token), path="/ui", httponly=True, samesite="Strict",
                        secure=self.request.protocol == "https", expires_days=MAX_AGE / 86400)
        self.redirect(_next(self.get_body_argument("next", "/ui/runs")), status=303)


class Logout(Page):
    def post(self) -> None:
        self.clear_cookie(COOKIE, path="/ui")
        self.redirect("/ui/login", status=303)
