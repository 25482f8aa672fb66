"""Run many lookups concurrently, never more than ``concurrency`` at once.

Services without a bulk endpoint (BGP Ranking, IP ASN History, hashlookup for SHA-256) are
queried one value per request; a bounded pool keeps a 5,000-attribute event fast without
hammering a free community service. Per-value issues (:class:`LookupIssue`) are returned in place
of the answer so the batch can carry on; a :class:`ServiceError` stops the batch (pending lookups
are cancelled) and is raised, because nothing from a failing service can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from misp_modules.lib.intel.errors import LookupIssue

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def map_bounded(fn: Callable[[K], V], keys: Iterable[K], concurrency: int) -> dict[K, V | LookupIssue]:
    """``{key: fn(key)}`` (or the key's :class:`LookupIssue`), at most ``concurrency`` calls at once."""
    unique = list(dict.fromkeys(keys))
    results: dict[K, V | LookupIssue] = {}

    def one(key: K) -> V | LookupIssue:
        try:
            return fn(key)
        except LookupIssue as issue:
            return issue

    if len(unique) <= 1 or concurrency <= 1:
        for key in unique:
            results[key] = one(key)
        return results
    with ThreadPoolExecutor(max_workers=min(concurrency, len(unique)), thread_name_prefix="intel") as pool:
        futures = {pool.submit(one, key): key for key in unique}
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
        for future, key in futures.items():
            results[key] = future.result()
    return {key: results[key] for key in unique}
