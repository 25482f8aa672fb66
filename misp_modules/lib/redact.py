"""Mask secrets before anything is logged or sent back in an error message.

One function, :func:`redact`, used by the server's log formatter (every line, every level) and
by modules for their error messages. It understands the shapes secrets take in this project:

* values under keys named like a credential (``token``, ``bot_access_token``, ``apikey``,
  ``authkey``, ``password``, ``secret``, ``sig``, ``Authorization``...), in dicts and in text
  (``"key": "v"``, ``key=v``, ``key: v``);
* Telegram Bot API URLs, where the token is a path segment (``/bot<token>/``);
* Teams / Power Automate webhook URLs (``sig=`` query parameter; legacy connector URLs, which
  are a secret as a whole);
* incoming-webhook URLs whose path is the credential: Mattermost ``/hooks/<id>``, Slack
  ``/services/T.../B.../<secret>``, Discord ``/api/webhooks/<id>/<token>``;
* ``Authorization:`` headers (``Bearer``/``Basic``/bare);
* any literal value passed in ``secrets`` (e.g. the values of a request's secret params), for
  secrets that appear somewhere unexpected, such as inside an exception message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"

# A key is secret when one of its words (split on non-alphanumerics and camelCase) is one of
# these, or when it ends with one of the glued forms (``apikey``, ``authkey``, ``bottoken``).
_SECRET_WORDS = {"token", "key", "apikey", "authkey", "password", "passwd", "pwd", "secret",
                 "sig", "signature", "authorization", "credential", "credentials", "cookie"}
_GLUED = ("token", "apikey", "authkey", "password", "secret")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def is_secret_key(key: Any) -> bool:
    """Whether a dict key / parameter name names a credential."""
    if not isinstance(key, str):
        return False
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    return any(w in _SECRET_WORDS or w.endswith(_GLUED) for w in words)


_KEY = r"[A-Za-z0-9_\-]*(?:token|key|password|passwd|pwd|secret|sig|signature|credentials?|cookie)"
_TEXT_RULES: list[tuple[re.Pattern[str], Any]] = [
    # Authorization headers, in any rendering ("Authorization: Bearer x", "'Authorization': 'x'").
    (re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)((?:bearer|basic|token)\s+)?[^\s'",}]+"""),
     lambda m: f"{m.group(1)}{m.group(2) or ''}{MASK}"),
    # Telegram Bot API: https://api.telegram.org/bot<token>/method (also self-hosted servers).
    (re.compile(r"(/bot)[0-9]+:[A-Za-z0-9_\-]+"), r"\1" + MASK),
    # Legacy Office 365 connector URLs: the whole path is the credential.
    (re.compile(r"(?i)(https?://[^/\s'\"]*(?:webhook\.office\.com|outlook\.office\.com)/webhook(?:b2)?/)[^\s'\"]+"),
     r"\1" + MASK),
    # Mattermost incoming webhooks: https://host/hooks/<id>, the id is the credential.
    (re.compile(r"(/hooks/)[A-Za-z0-9_\-]+"), r"\1" + MASK),
    # Slack incoming webhooks: https://hooks.slack.com/services/T.../B.../<secret>.
    (re.compile(r"(/services/)T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"), r"\1" + MASK),
    # Discord webhooks: https://discord.com/api/webhooks/<id>/<token>.
    (re.compile(r"(/api/webhooks/[0-9]+/)[A-Za-z0-9_\-]+"), r"\1" + MASK),
    # "key": "value" (JSON / Python reprs).
    (re.compile(r"""(?i)(["'](?:""" + _KEY + r""")["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2"""), r"\1\2" + MASK + r"\2"),
    # key=value (query strings, form bodies, log text), including sig=... of Power Automate URLs.
    (re.compile(r"(?i)(\b" + _KEY + r"=)[^&\s'\",;]+"), r"\1" + MASK),
]


# Every text rule needs one of these words; most log lines have none and skip the rules.
# Searched in the lowercased text: a case-insensitive alternation scans ten times slower,
# and this runs for every log line (access lines included).
_TRIGGER = re.compile(r"token|key|pass|pwd|secret|sig|credential|cookie|authori|/bot|webhook|/hooks/|/services/")


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Return ``value`` with secrets masked: text is scanned, dicts/lists are copied with secret
    keys masked and their strings scanned. Other values are returned unchanged."""
    parts = {part for s in secrets if isinstance(s, str) for part in secret_parts(s)}
    literals = sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)
    return _redact(value, literals)


_AUTH_SCHEME = re.compile(r"(?i)^\s*(?:bearer|basic|token|bot|apikey)\s+(\S+)\s*$")


def secret_parts(secret: str) -> list[str]:
    """``secret`` and the pieces of it that are credentials on their own, since a service may
    echo a piece without the rest ("invalid token <t>" for ``Authorization: Bearer <t>``):
    a URL's password, query values and long path segments (webhook ids, ``sig=``), the
    credential of an ``<scheme> <credential>`` header value."""
    parts = [secret]
    if "\n" in secret:  # a block of "Name: value" header lines: every value is a credential
        for line in secret.splitlines():
            name, colon, value = line.partition(":")
            if colon and value.strip():
                parts += secret_parts(value.strip())
        return parts
    auth = _AUTH_SCHEME.match(secret)
    if auth:
        parts.append(auth.group(1))
    elif secret.lower().startswith(("http://", "https://")):
        try:
            url = urlsplit(secret)
            password = url.password
        except ValueError:
            return parts
        if password:
            parts += [password, unquote(password)]
        for raw in url.query.split("&"):
            value = raw.partition("=")[2]
            if len(value) >= 8:
                parts += [value, unquote(value)]
        parts += [segment for segment in url.path.split("/") if len(segment) >= 16]
    return parts


def _redact(value: Any, literals: list[str]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, literals)
    if isinstance(value, (bytes, bytearray)):
        return _redact_text(bytes(value).decode("utf-8", "replace"), literals)
    if isinstance(value, Mapping):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else _redact(v, literals))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, literals) for v in value]
    return value


def _redact_text(text: str, literals: list[str]) -> str:
    for literal in literals:
        if literal in text:
            text = text.replace(literal, MASK)
    if not _TRIGGER.search(text.lower()):
        return text
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def secret_values(data: Any, _depth: int = 0) -> list[str]:
    """Every string stored under a secret-named key anywhere in ``data`` (e.g. a request's
    ``params``/``config``), to mask wherever else it shows up."""
    found: list[str] = []
    if _depth > 8:
        return found
    if isinstance(data, Mapping):
        for key, value in data.items():
            if is_secret_key(key) and isinstance(value, str) and value:
                found.append(value)
            elif isinstance(value, (Mapping, list)):
                found.extend(secret_values(value, _depth + 1))
    elif isinstance(data, list):
        for value in data:
            if isinstance(value, (Mapping, list)):
                found.extend(secret_values(value, _depth + 1))
    return found


def request_secrets(request: Any, secret_params: Iterable[str] = ()) -> list[str]:
    """Every literal secret of a ``/query`` request: :func:`secret_values`, plus the values of
    the params the module declares secret (``secret_params``: a webhook URL whose path or query
    is the credential, a block of custom headers), which no key name gives away."""
    found = secret_values(request)
    params = request.get("params") if isinstance(request, Mapping) else None
    if isinstance(params, Mapping):
        found += [params[name] for name in secret_params if isinstance(params.get(name), str) and params[name]]
    return found
