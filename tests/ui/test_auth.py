"""The pages' authentication over plain HTTP against the real service: the session cookie, CSRF on
every POST, the API's Bearer scheme left as it is, the security headers; and the signer's rules
(expiry, a removed token ends its sessions, forged cookies)."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlencode

from runner.service.ui.auth import MAX_AGE, LoginLimiter, Signer
from tests.support.service import TOKEN


def exchange(port: int, method: str, path: str, body: str | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return (resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.getheaders(),
                resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def login(port: int) -> tuple[str, str]:
    """``(session cookie, csrf value)`` through the login form, as a browser does."""
    status, headers, all_headers, page = exchange(port, "GET", "/ui/login")
    nonce = re.search(r"mw_login=([^;]+)", headers["set-cookie"]).group(1)
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    form = urlencode({"_csrf": csrf, "token": TOKEN, "next": "/ui/runs"})
    status, headers, all_headers, _ = exchange(port, "POST", "/ui/login", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"mw_login={nonce}"})
    assert status == 303 and headers["location"] == "/ui/runs"
    cookie = next(v for k, v in all_headers if k.lower() == "set-cookie" and v.startswith("mw_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
    session = cookie.split(";", 1)[0]
    status, _, _, page = exchange(port, "GET", "/ui/runs", headers={"Cookie": session})
    assert status == 200
    return session, re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_pages_without_a_session_go_to_the_login_and_scripts_get_401(ui_service):
    port = ui_service.port
    status, headers, _, _ = exchange(port, "GET", "/ui/runs?outcome=blocked")
    assert status == 302 and headers["location"] == "/ui/login?next=%2Fui%2Fruns%3Foutcome%3Dblocked"
    status, headers, _, body = exchange(port, "GET", "/ui/runs/changes?since_seq=0")
    assert status == 401 and headers["content-type"] == "application/json" and "log in again" in body
    forged = "mw_session=v1.9999999999.AAAA.BBBB.CCCC"
    assert exchange(port, "GET", "/ui/runs", headers={"Cookie": forged})[0] == 302
    status, headers, _, _ = exchange(port, "GET", "/ui/login")
    assert "script-src 'self'" in headers["content-security-policy"] and "frame-ancestors 'none'" in \
        headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"


def test_a_login_needs_the_form_nonce_and_a_real_token(ui_service):
    port = ui_service.port
    status, headers, _, page = exchange(port, "GET", "/ui/login")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    nonce = re.search(r"mw_login=([^;]+)", headers["set-cookie"]).group(1)
    form = {"_csrf": csrf, "token": TOKEN}
    status, _, _, page = exchange(port, "POST", "/ui/login", urlencode(form),
                                  {"Content-Type": "application/x-www-form-urlencoded"})  # no nonce cookie
    assert status == 403 and "the login form had expired" in page
    status, _, _, page = exchange(port, "POST", "/ui/login", urlencode({**form, "token": "x" * 20}),
                                  {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"mw_login={nonce}"})
    assert status == 401 and "not one of the service" in page and "x" * 20 not in page
    status, headers, _, _ = exchange(port, "POST", "/ui/login", urlencode({**form, "next": "https://elsewhere.example/"}),
                                     {"Content-Type": "application/x-www-form-urlencoded",
                                      "Cookie": f"mw_login={nonce}"})
    assert status == 303 and headers["location"] == "/ui/runs"  # never sent to another site


def test_posts_need_the_csrf_value_and_this_origin(ui_service, runs):
    port = ui_service.port
    session, csrf = login(port)
    path = f"/ui/runs/{runs.clean['id']}/rerun"
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": session}
    status, _, _, page = exchange(port, "POST", path, "_csrf=wrong", form)
    assert status == 403 and "this form is stale" in page
    status, _, _, page = exchange(port, "POST", path, f"_csrf={csrf}", {**form, "Origin": "http://evil.example"})
    assert status == 403 and "posted from another site" in page
    status, _, _, _ = exchange(port, "POST", "/ui/hashpath/eval", '{"event": "{}", "path": "a"}',
                               {"Content-Type": "application/json", "Cookie": session})
    assert status == 403
    status, headers, _, _ = exchange(port, "POST", path, f"_csrf={csrf}", form)
    assert status == 303 and headers["location"].startswith("/ui/runs/")
    ui_service.run_done(headers["location"].rsplit("/", 1)[1])


def test_the_api_keeps_its_bearer_scheme(ui_service):
    session, _csrf = login(ui_service.port)
    status, _, _, body = exchange(ui_service.port, "GET", "/api/runs", headers={"Cookie": session})
    assert status == 401 and "Bearer" in body
    assert ui_service.request("GET", "/api/runs")[0] == 200


def test_sessions_expire_and_end_with_their_token():
    signer = Signer(["token-a-0123456789abcdef", "token-b-0123456789abcdef"])
    cookie = signer.issue("token-a-0123456789abcdef", now=1_000_000)
    assert signer.session(cookie, now=1_000_000 + 60) is not None
    assert signer.session(cookie, now=1_000_000 + MAX_AGE + 1) is None
    assert Signer(["token-b-0123456789abcdef"]).session(cookie, now=1_000_060) is None  # token a removed
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert signer.session(tampered, now=1_000_060) is None
    nonce = signer.session(cookie, now=1_000_060).nonce
    assert signer.csrf_ok(nonce, signer.csrf(nonce)) and not signer.csrf_ok(nonce, "") and \
        not signer.csrf_ok(nonce, signer.csrf(nonce + "x"))
    assert signer.token_ok(" token-b-0123456789abcdef ") == "token-b-0123456789abcdef"
    assert signer.token_ok("token-c-0123456789abcdef") is None


def test_failed_logins_are_limited_per_address():
    limiter = LoginLimiter(limit=3, window=60)
    for _ in range(3):
        assert not limiter.blocked("10.0.0.1")
        limiter.failed("10.0.0.1")
    assert limiter.blocked("10.0.0.1") and not limiter.blocked("10.0.0.2")
