"""Telegram Bot API: ``python-telegram-bot`` (async) for the ``telegram`` module, plain HTTP
for MISP's ``telegram-send-alert`` node (docs/external-services.md §3).

The Bot API base URL is ``[services] telegram`` (a self-hosted Bot API server, or a local fake),
default ``https://api.telegram.org/bot``; the token is appended to it. A fresh ``Bot`` and HTTP
client are made for each call, on the running loop, and closed after it: PTB's httpx client is
bound to the loop that created it.
"""

from __future__ import annotations

import asyncio
import datetime
import html
import re
import warnings
from collections.abc import Iterable
from typing import Any

from telegram import Bot, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from misp_modules.lib.http import HttpPolicy, failure, rate_limited, target_of, transport_reason
from misp_modules.lib.notify.text import ELLIPSIS
from misp_modules.settings import get_settings

SERVICE = "Telegram"
MAX_MESSAGE_LENGTH = 4096  # after entity parsing, in UTF-16 code units
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[^<&]+|[<&]")
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][\w-]*)")


def base_url() -> str:
    return get_settings().service_url("telegram", DEFAULT_BASE_URL)


def chat_id_value(chat_id: str) -> int | str:
    """``-100123`` → int; ``@channel`` stays a string (both forms are valid chat ids)."""
    return int(chat_id) if re.fullmatch(r"-?\d+", chat_id) else chat_id


def visible_length(text: str) -> int:
    """What Telegram counts against the limit: text without tags, entities decoded, in UTF-16."""
    plain = html.unescape(re.sub(r"<[^>]*>", "", text))
    return len(plain.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Cut HTML-mode text into messages within ``limit`` visible characters, preferring line
    ends, never inside a tag or an entity, closing the open tags at each cut and reopening them
    in the next message."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)

    def cut() -> None:
        nonlocal current, size
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        pieces.append("".join(current) + closing)
        current = [tag for _, tag in open_tags]
        size = 0

    for token in _TOKEN.findall(text):
        if token.startswith("<") and token.endswith(">") and len(token) > 1:
            match = _TAG.match(token)
            if match:
                closing, name = match.group(1), match.group(2).lower()
                if closing:
                    for i in range(len(open_tags) - 1, -1, -1):
                        if open_tags[i][0] == name:
                            del open_tags[i]
                            break
                else:
                    open_tags.append((name, token))
            current.append(token)
            continue
        if token.startswith("&") and len(token) > 1:
            if size + 1 > limit:
                cut()
            current.append(token)
            size += 1
            continue
        while token:
            room = limit - size
            units = len(token.encode("utf-16-le")) // 2
            if units <= room:
                current.append(token)
                size += units
                break
            fit = _fit_units(token, room)
            for sep in ("\n", " "):
                at = token.rfind(sep, 0, fit)
                if at >= 0:
                    fit = at + 1
                    break
            if fit == 0 and size == 0:
                fit = max(1, _fit_units(token, limit))
            if fit:
                current.append(token[:fit])
            token = token[fit:]
            cut()
    if current and (size or not pieces):
        pieces.append("".join(current))
    return [p for p in pieces if p.strip()] or pieces[:1]


def truncate_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """The first message of :func:`split_html`, ended with an ellipsis when text was cut."""
    pieces = split_html(text, limit - 1)
    return pieces[0] if len(pieces) == 1 else pieces[0] + ELLIPSIS


def _fit_units(text: str, room: int) -> int:
    """How many characters of ``text`` fit in ``room`` UTF-16 code units."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            return i
    return len(text)


async def send_messages(token: str, chat_id: str, texts: Iterable[str], policy: HttpPolicy,
                        *, parse_mode: str | None = "HTML") -> list[int]:
    """Send each text in order (waiting out ``retry_after`` within the policy's budget);
    the message ids. Raises :class:`OutboundError` with a reason that never holds the token."""
    base = base_url()
    target = target_of(base)
    secrets = [token]
    if not token:
        raise failure("param `bot_token` is empty: set the bot token from @BotFather")
    request = HTTPXRequest(connect_timeout=policy.timeout, read_timeout=policy.timeout,
                           write_timeout=policy.timeout, pool_timeout=policy.timeout,
                           httpx_kwargs={"verify": policy.verify})
    ids = []
    try:
        bot = Bot(token, base_url=base, request=request, get_updates_request=request)
        for text in texts:
            retries = 0
            while True:
                try:
                    message = await bot.send_message(chat_id=chat_id_value(chat_id), text=text, parse_mode=parse_mode,
                                                     link_preview_options=LinkPreviewOptions(is_disabled=True))
                    ids.append(message.message_id)
                    break
                except RetryAfter as exc:
                    wait = _retry_after(exc)
                    if retries >= policy.max_retries or wait > policy.max_retry_wait:
                        raise failure(rate_limited(SERVICE, target, wait, retries, detail="Too Many Requests"),
                                      secrets) from None
                    retries += 1
                    await asyncio.sleep(wait)
    except TelegramError as exc:
        raise failure(_reason(exc, chat_id, target, policy), secrets) from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # python-telegram-bot reads any JSON answer as the Bot API's {"ok": ..., "result": {...}};
        # a list, a string or a result of the wrong shape fails inside it with a bare TypeError.
        raise failure(f"{SERVICE}: {target} did not answer like the Telegram Bot API "
                      f"({type(exc).__name__} reading its answer)", secrets) from None
    finally:
        await request.shutdown()
    return ids


def _reason(exc: TelegramError, chat_id: str, target: str, policy: HttpPolicy) -> str:
    description = exc.message
    if isinstance(exc, InvalidToken):
        return f"{SERVICE}: {target} rejected the bot token ({description})"
    if isinstance(exc, Forbidden):
        return f"{SERVICE}: the bot may not post in chat {chat_id} ({description})"
    if isinstance(exc, ChatMigrated):
        return f"{SERVICE}: chat {chat_id} became the supergroup {exc.new_chat_id}: use that chat id"
    if isinstance(exc, BadRequest):
        if "chat not found" in description.lower():
            return f"{SERVICE}: chat {chat_id} not found (is the bot a member of the chat?)"
        return f"{SERVICE}: the message was refused ({description})"
    if isinstance(exc, TimedOut):
        return f"{SERVICE}: no answer from {target} within {policy.timeout:g} s"
    if isinstance(exc, NetworkError):
        if exc.__cause__ is not None and not isinstance(exc.__cause__, TelegramError):
            return f"{SERVICE}: cannot reach {target}: {transport_reason(exc.__cause__)}"
        # reached, but it answered an error status (PTB's description quotes a non-JSON body)
        return f"{SERVICE}: {target} answered with an error ({_shorten(description)})"
    if description == "Invalid server response":  # PTB: the answer was not JSON
        return f"{SERVICE}: {target} did not answer like the Telegram Bot API (its answer is not JSON)"
    return f"{SERVICE}: {type(exc).__name__} ({description})"


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after(exc: RetryAfter) -> float:
    """Seconds to wait (PTB 22 warns that ``retry_after`` will become a timedelta: accept both)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
