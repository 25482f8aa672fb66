"""Logging in to the pages with an API token, and keeping forms from being posted by others.

The pages accept the service's API tokens (``[api] tokens``), typed once into a login form. The
token is compared in constant time and never stored in the browser: the answer is a session
cookie ``mw_session`` (HttpOnly, SameSite=Strict, ``Path=/ui``, Secure over HTTPS) holding the
issue time, a random nonce and a fingerprint of the token, signed with HMAC-SHA256 under a key
derived from the token set. So a session survives a restart and works on every intake with the
same tokens, ends after ``MAX_AGE`` seconds, and ends at once when its token is removed from the
configuration. Every POST must carry the session's CSRF value (a hidden ``_csrf`` field or an
``X-CSRF-Token`` header; it is an HMAC of the nonce) and, when the browser sends one, an
``Origin`` naming this host. The login form has its own pre-session nonce cookie for the same
check. Failed logins from one address are limited (``LoginLimiter``).

The API itself keeps its ``Authorization: Bearer`` scheme and ignores cookies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

COOKIE = "mw_session"
LOGIN_COOKIE = "mw_login"
MAX_AGE = 12 * 3600
LOGIN_MAX_AGE = 3600


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    issued: int
    nonce: str
    fingerprint: str


class Signer:
    """Signs and checks session cookies and CSRF values for one set of tokens."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = tuple(tokens)
        material = b"\0".join(sorted(t.encode() for t in self.tokens))
        self.key = hashlib.sha256(b"misp-workflow ui session\0" + material).digest()

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self.key, "|".join(parts).encode(), hashlib.sha256).digest())

    def fingerprint(self, token: str) -> str:
        return self._mac("token", token)[:22]

    def token_ok(self, given: str) -> str | None:
        """The configured token ``given`` is (compared in constant time with each), or None."""
        given_b = given.strip().encode()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(given_b, token.encode()):
                found = token
        return found

    def issue(self, token: str, now: float | None = None) -> str:
        issued = str(int(time.time() if now is None else now))
        nonce = _b64(secrets.token_bytes(18))
        body = f"v1.{issued}.{nonce}.{self.fingerprint(token)}"
        return f"{body}.{self._mac('session', body)}"

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None (absent, forged, expired, its token removed)."""
        if not cookie:
            return None
        try:
            version, issued, nonce, fingerprint, mac = cookie.split(".")
        except ValueError:
            return None
        body = f"{version}.{issued}.{nonce}.{fingerprint}"
        if version != "v1" or not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        if not issued.isdigit() or (time.time() if now is None else now) - int(issued) > MAX_AGE:
            return None
        if not any(hmac.compare_digest(fingerprint, self.fingerprint(t)) for t in self.tokens):
            return None
        return Session(int(issued), nonce, fingerprint)

    def csrf(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(nonce), given or "")

    def login_nonce(self) -> str:
        return f"{int(time.time())}.{_b64(secrets.token_bytes(18))}"

    def login_nonce_ok(self, nonce: str | None) -> bool:
        if not nonce or "." not in nonce:
            return False
        issued = nonce.split(".", 1)[0]
        return issued.isdigit() and time.time() - int(issued) <= LOGIN_MAX_AGE


class LoginLimiter:
    """At most ``limit`` failed logins per address within ``window`` seconds."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(address, ()) if now - t < self.window]
            self._failures[address] = recent
            return len(recent) >= self.limit

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(time.monotonic())
            if len(self._failures) > 10_000:
                self._failures.clear()
