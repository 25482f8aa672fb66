"""CIRCL hashlookup through ``pyhashlookup``, with validation, bulk lookups and a cache.

pyhashlookup returns the decoded body whatever the HTTP status (a 404 "Non existing MD5" message
looks like a record) and never times out; :func:`misp_modules.lib.http.upstream.harden` fixes the
transport, and this module interprets the answers: a record, ``None`` (unknown file), or an
error. Hashes are validated locally first, so a malformed value never costs a request.

Settings (``[modules.hashlookup]``, shared by the expansion and the curation action):
``http_timeout`` (seconds per HTTP request, default 4: MISP gives hover/attach-enrichment queries 5 s),
``retries`` (1), ``cache_ttl`` (seconds, 3600; 0 disables), ``bulk_size`` (hashes per bulk
request, 500), ``parallel_requests`` (parallel single lookups for SHA-256, which has no bulk
endpoint, 8). Base URL: ``[services] hashlookup``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyhashlookup import Hashlookup

from misp_modules.lib.http.upstream import harden
from misp_modules.lib.intel.batch import map_bounded
from misp_modules.lib.intel.cache import MISS, TTLCache
from misp_modules.lib.intel.errors import InvalidValue, ServiceError, guard
from misp_modules.settings import get_settings

SERVICE = "hashlookup"
DEFAULT_URL = "https://hashlookup.circl.lu/"
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
BULK_ALGOS = ("md5", "sha1")
RECORD_KEYS = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")

Record = dict[str, Any]


def normalise(algo: str, value: Any) -> str:
    """The upper-case hex hash (hashlookup's own form), or :class:`InvalidValue` saying why not."""
    if algo not in HASH_LENGTHS:
        raise InvalidValue(f"unsupported hash type {algo!r} (hashlookup knows md5, sha1, sha256)")
    text = value.strip() if isinstance(value, str) else ""
    if len(text) != HASH_LENGTHS[algo] or not _HEX.match(text):
        raise InvalidValue(f"malformed {algo} {value!r}: expected {HASH_LENGTHS[algo]} hexadecimal characters")
    return text.upper()


@dataclass(frozen=True)
class HashlookupConfig:
    root_url: str = DEFAULT_URL
    timeout: float = 4.0
    retries: int = 1
    cache_ttl: float = 3600.0
    bulk_size: int = 500
    concurrency: int = 8

    @classmethod
    def from_settings(cls, root_url: str | None = None) -> HashlookupConfig:
        settings = get_settings()
        return cls(
            root_url=root_url or settings.service_url(SERVICE, DEFAULT_URL),
            timeout=settings.module_number(SERVICE, "http_timeout", cls.timeout, minimum=0.001),
            retries=settings.module_number(SERVICE, "retries", cls.retries, whole=True),
            cache_ttl=settings.module_number(SERVICE, "cache_ttl", cls.cache_ttl),
            bulk_size=settings.module_number(SERVICE, "bulk_size", cls.bulk_size, whole=True, minimum=1),
            concurrency=settings.module_number(SERVICE, "parallel_requests", cls.concurrency, whole=True, minimum=1),
        )


_cache = TTLCache()


class HashlookupClient:
    """Lookups against one hashlookup instance; thread-safe (one shared ``requests`` session)."""

    def __init__(self, config: HashlookupConfig) -> None:
        self.config = config
        self._api = Hashlookup(root_url=config.root_url)
        harden(self._api.session, timeout=config.timeout, retries=config.retries,
               answer_statuses=(200, 400, 404))

    def _call(self, fn, *args):
        return guard(SERVICE, self.config.root_url, self.config.timeout, lambda: fn(*args))

    def lookup(self, algo: str, value: Any) -> Record | None:
        """The record for one hash, ``None`` when hashlookup does not know it.

        An empty record (``{}``, seen on older servers) is returned as is: callers decide.
        """
        digest = normalise(algo, value)
        key = (self.config.root_url, algo, digest)
        cached = _cache.get(key, self.config.cache_ttl)
        if cached is not MISS:
            return cached
        method = {"md5": self._api.md5_lookup, "sha1": self._api.sha1_lookup, "sha256": self._api.sha256_lookup}[algo]
        answer = self._call(method, digest)
        record = self._interpret(algo, digest, answer)
        _cache.put(key, record, self.config.cache_ttl)
        return record

    def _interpret(self, algo: str, digest: str, answer: Any) -> Record | None:
        if not isinstance(answer, dict):
            raise ServiceError(SERVICE, f"unexpected answer for {algo} lookup ({type(answer).__name__})")
        if "message" in answer and RECORD_KEYS["sha1"] not in answer:
            message = str(answer["message"])
            if message.lower().startswith("non existing"):
                return None
            raise InvalidValue(f"hashlookup refused {algo} {digest}: {message}")
        return answer

    def lookup_many(self, hashes: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Record | None | InvalidValue]:
        """Look up ``(algo, value)`` pairs with as few requests as possible.

        The result maps each pair, as given, to its record, ``None`` (unknown to hashlookup) or
        the :class:`InvalidValue` for a malformed hash. MD5 and SHA-1 go through the bulk
        endpoints in chunks of ``bulk_size``; SHA-256 (no bulk endpoint) through concurrent,
        bounded single lookups. Cached answers cost nothing. A ``ServiceError`` aborts the batch.
        """
        digests: dict[tuple[str, str], tuple[str, str] | InvalidValue] = {}
        answers: dict[tuple[str, str], Record | None] = {}
        todo: dict[str, list[str]] = {algo: [] for algo in HASH_LENGTHS}
        for algo, value in hashes:
            if (algo, value) in digests:
                continue
            try:
                key = (algo, normalise(algo, value))
            except InvalidValue as issue:
                digests[(algo, value)] = issue
                continue
            digests[(algo, value)] = key
            if key in answers:
                continue
            cached = _cache.get((self.config.root_url, *key), self.config.cache_ttl)
            answers[key] = None if cached is MISS else cached
            if cached is MISS:
                todo[algo].append(key[1])
        for algo in BULK_ALGOS:
            for start in range(0, len(todo[algo]), self.config.bulk_size):
                chunk = todo[algo][start:start + self.config.bulk_size]
                for digest, record in self._bulk(algo, chunk).items():
                    answers[(algo, digest)] = record
        invalid: dict[tuple[str, str], InvalidValue] = {}
        if todo["sha256"]:
            singles = map_bounded(lambda digest: self.lookup("sha256", digest), todo["sha256"], self.config.concurrency)
            for digest, record in singles.items():
                if isinstance(record, InvalidValue):
                    invalid[("sha256", digest)] = record
                else:
                    answers[("sha256", digest)] = record
        return {given: key if isinstance(key, InvalidValue) else invalid.get(key, answers[key])
                for given, key in digests.items()}

    def _bulk(self, algo: str, digests: list[str]) -> dict[str, Record | None]:
        method = self._api.md5_bulk_lookup if algo == "md5" else self._api.sha1_bulk_lookup
        answer = self._call(method, digests)
        if not isinstance(answer, list):
            reason = answer.get("message") if isinstance(answer, dict) else type(answer).__name__
            raise ServiceError(SERVICE, f"unexpected answer from bulk/{algo}: {reason}")
        found: dict[str, Record] = {}
        for record in answer:
            if isinstance(record, dict) and isinstance(record.get(RECORD_KEYS[algo]), str):
                found[record[RECORD_KEYS[algo]].upper()] = record
        out: dict[str, Record | None] = {}
        for digest in digests:
            record = found.get(digest)
            out[digest] = record
            _cache.put((self.config.root_url, algo, digest), record, self.config.cache_ttl)
        return out


_clients: dict[HashlookupConfig, HashlookupClient] = {}
_lock = threading.Lock()


def get_client(root_url: str | None = None) -> HashlookupClient:
    """The client for the current settings (``root_url`` overrides the configured base URL)."""
    config = HashlookupConfig.from_settings(root_url)
    with _lock:
        client = _clients.get(config)
        if client is None:
            client = _clients[config] = HashlookupClient(config)
        return client


def clear_cache() -> None:
    _cache.clear()
