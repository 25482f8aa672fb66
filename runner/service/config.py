"""``automation.toml``: the service's configuration (every key: docs/service.md, "Configuration").

Read once at startup. Anything wrong stops it with one line naming the file, the key and the
problem, as the module server's settings do; unknown keys are errors (a typo must not be
silently ignored). Relative paths are relative to the file. Secrets (``[misp] key``,
``[feed] password``, ``[api] tokens``) can come from the environment instead
(``MISP_KEY``, ``MISP_WORKFLOW_FEED_PASSWORD``, ``MISP_WORKFLOW_API_TOKENS``, comma-separated)
and never appear in a message or a log.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.service import execution

# The topics of MISP's ZeroMQ feed that carry the objects its non-blocking triggers fire on
# (docs/misp-behaviour.md §4.1); `misp_json_self` (liveness) is always subscribed.
FEED_TOPICS = ("misp_json_event", "misp_json_attribute", "misp_json_object", "misp_json_tag",
               "misp_json_sighting", "misp_json_user", "misp_json_organisation", "misp_json_conversation")


class ConfigError(ValueError):
    """An invalid configuration; the message names the place, the key and the problem."""


@dataclass(frozen=True)
class QueueConfig:
    backend: str = "sqlite"
    path: str = "state/queue.db"
    url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "misp-workflow"
    lease: float = 60.0
    poll: float = 0.5
    synchronous: str = "normal"
    max_attempts: int = 5
    backoff: float = 2.0
    backoff_max: float = 300.0
    dedupe_ttl: float = 86400.0


@dataclass(frozen=True)
class HistoryConfig:
    url: str = "state/history.db"
    max_age_days: float = 30.0
    max_runs: int = 1_000_000


@dataclass(frozen=True)
class MispConfig:
    url: str | None = None
    key: str | None = field(default=None, repr=False)
    verify_tls: bool | str = True
    timeout: float = 30.0
    write_back: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.url and self.key)


@dataclass(frozen=True)
class FeedConfig:
    url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    topics: tuple[str, ...] = FEED_TOPICS
    max_message_bytes: int = 16 * 1024 * 1024
    receive_hwm: int = 100_000
    silence_alarm: float = 60.0


@dataclass(frozen=True)
class ApiConfig:
    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = 8780
    tokens: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class UiConfig:
    enabled: bool = True         # the web debugger under /ui/ on the API's port (docs/ui.md)
    events: str | None = None    # a folder of event files the pages offer as inputs


@dataclass(frozen=True)
class GuardConfig:
    window: float = 300.0
    max_runs_per_event: int = 20
    own_write_ttl: float = 3600.0


@dataclass(frozen=True)
class AlertConfig:
    module: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    on: tuple[str, ...] = ("dead", "loop")


@dataclass(frozen=True)
class Schedule:
    name: str
    workflow: str
    every: float               # seconds
    search: Mapping[str, Any] = field(default_factory=dict)
    trigger: str | None = None


@dataclass(frozen=True)
class ServiceConfig:
    workflows: str = "workflows"
    modules_url: str = "http://127.0.0.1:6666"
    node_timeout: float = 10.0
    workers: int = 2
    enabled_modules: str | None = None
    disabled_modules: tuple[str, ...] = ()
    carry_module_data: bool = False
    host_org_id: Any = None
    adhoc_trigger: str = "event-after-save"
    shutdown_grace: float = 30.0
    reload_check: float = 1.0
    transient_errors: tuple[str, ...] = execution.DEFAULT_TRANSIENT_ERRORS
    queue: QueueConfig = field(default_factory=QueueConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    misp: MispConfig = field(default_factory=MispConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    schedules: tuple[Schedule, ...] = ()
    source: str | None = None


# -- checking ----------------------------------------------------------------------------------

class _Reader:
    def __init__(self, where: str, section: str, table: Mapping[str, Any], known: tuple[str, ...]) -> None:
        self.where, self.section, self.table = where, section, table
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: [{section}] must be a table")
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
                raise ConfigError(f"{where}: [{section}] {key}: unknown key{hint}")

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: [{self.section}] {key}: {problem}")

    def text(self, key: str, default: str | None) -> str | None:
        value = self.table.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}")
        return value

    def number(self, key: str, default: float, minimum: float = 0.0, whole: bool = False) -> Any:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum or (
                whole and int(value) != value):
            kind = "a whole number" if whole else "a number"
            raise self.fail(key, f"must be {kind}, at least {minimum:g}, got {value!r}")
        return int(value) if whole else float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.table.get(key, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value


def _path(base: Path, value: str) -> str:
    return str(value if os.path.isabs(value) else (base / value))


def load(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    env = os.environ if environ is None else environ
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    return from_mapping(data, where, Path(path).resolve().parent, env)


def from_mapping(data: Mapping[str, Any], where: str, base: Path, env: Mapping[str, str]) -> ServiceConfig:
    sections = ("service", "queue", "history", "misp", "feed", "api", "ui", "guard", "alerts", "schedule")
    top = _Reader(where, "top level", data, sections)
    del top
    s = _Reader(where, "service", data.get("service", {}), (
        "workflows", "modules_url", "node_timeout", "workers", "enabled_modules", "disabled_modules",
        "carry_module_data", "host_org_id", "adhoc_trigger", "shutdown_grace", "reload_check", "transient_errors"))
    adhoc = s.text("adhoc_trigger", "event-after-save")
    if not execution.trigger_is_known(adhoc):
        raise s.fail("adhoc_trigger", f"unknown trigger {adhoc!r} (known: {', '.join(execution.trigger_ids())})")
    host_org = s.table.get("host_org_id")
    if host_org is not None and not isinstance(host_org, (str, int)):
        raise s.fail("host_org_id", "must be an organisation id")

    q = _Reader(where, "queue", data.get("queue", {}), tuple(QueueConfig.__dataclass_fields__))
    queue = QueueConfig(
        backend=q.choice("backend", "sqlite", ("sqlite", "redis")),
        path=_path(base, q.text("path", QueueConfig.path)), url=q.text("url", QueueConfig.url),
        namespace=q.text("namespace", QueueConfig.namespace), lease=q.number("lease", 60.0, 1.0),
        poll=q.number("poll", 0.5, 0.01), synchronous=q.choice("synchronous", "normal", ("normal", "full")),
        max_attempts=q.number("max_attempts", 5, 1, whole=True), backoff=q.number("backoff", 2.0, 0.0),
        backoff_max=q.number("backoff_max", 300.0, 0.0), dedupe_ttl=q.number("dedupe_ttl", 86400.0, 1.0))

    h = _Reader(where, "history", data.get("history", {}), tuple(HistoryConfig.__dataclass_fields__))
    history_url = h.text("url", HistoryConfig.url)
    if not history_url.startswith(("postgresql://", "postgres://")):
        plain = history_url[len("sqlite:///"):] if history_url.startswith("sqlite:///") else history_url
        history_url = _path(base, plain)
    history = HistoryConfig(url=history_url, max_age_days=h.number("max_age_days", 30.0, 0.0),
                            max_runs=h.number("max_runs", 1_000_000, 1, whole=True))

    m = _Reader(where, "misp", data.get("misp", {}), tuple(MispConfig.__dataclass_fields__))
    verify = m.table.get("verify_tls", True)
    if env.get("MISP_VERIFY_TLS") is not None:
        verify = env["MISP_VERIFY_TLS"].lower() not in ("0", "false", "no")
    if not isinstance(verify, (bool, str)):
        raise m.fail("verify_tls", "must be true, false or the path of a CA bundle")
    misp = MispConfig(url=env.get("MISP_URL") or m.text("url", None), key=env.get("MISP_KEY") or m.text("key", None),
                      verify_tls=verify, timeout=m.number("timeout", 30.0, 0.1),
                      write_back=m.flag("write_back", True))
    if bool(misp.url) != bool(misp.key):
        raise m.fail("key" if misp.url else "url", "both [misp] url and key are needed (or MISP_URL / MISP_KEY)")

    f = _Reader(where, "feed", data.get("feed", {}), tuple(FeedConfig.__dataclass_fields__))
    topics = f.strings("topics", FEED_TOPICS)
    for topic in topics:
        if not topic.startswith("misp_json"):
            raise f.fail("topics", f"{topic!r} is not a MISP feed topic (misp_json_...)")
    feed = FeedConfig(url=f.text("url", None), username=f.text("username", None),
                      password=env.get("MISP_WORKFLOW_FEED_PASSWORD") or f.text("password", None), topics=topics,
                      max_message_bytes=f.number("max_message_bytes", FeedConfig.max_message_bytes, 1, whole=True),
                      receive_hwm=f.number("receive_hwm", FeedConfig.receive_hwm, 0, whole=True),
                      silence_alarm=f.number("silence_alarm", 60.0, 1.0))
    if feed.username and not feed.password:
        raise f.fail("password", "a username needs a password (MISP's Plugin.ZeroMQ_password), "
                                 "or MISP_WORKFLOW_FEED_PASSWORD")

    a = _Reader(where, "api", data.get("api", {}), tuple(ApiConfig.__dataclass_fields__))
    tokens = a.strings("tokens", ())
    if env.get("MISP_WORKFLOW_API_TOKENS"):
        tokens = tuple(t.strip() for t in env["MISP_WORKFLOW_API_TOKENS"].split(",") if t.strip())
    for token in tokens:
        if len(token) < 16:
            raise a.fail("tokens", "every token must be at least 16 characters long")
    api = ApiConfig(enabled=a.flag("enabled", True), listen=a.text("listen", "127.0.0.1"),
                    port=a.number("port", 8780, 0, whole=True), tokens=tokens)
    if api.enabled and not api.tokens:
        raise a.fail("tokens", "the API needs at least one token (or MISP_WORKFLOW_API_TOKENS), "
                               "or set [api] enabled = false")

    u = _Reader(where, "ui", data.get("ui", {}), tuple(UiConfig.__dataclass_fields__))
    events = u.text("events", None)
    ui = UiConfig(enabled=u.flag("enabled", True), events=_path(base, events) if events else None)

    g = _Reader(where, "guard", data.get("guard", {}), tuple(GuardConfig.__dataclass_fields__))
    guard = GuardConfig(window=g.number("window", 300.0, 1.0),
                        max_runs_per_event=g.number("max_runs_per_event", 20, 1, whole=True),
                        own_write_ttl=g.number("own_write_ttl", 3600.0, 1.0))

    al = _Reader(where, "alerts", data.get("alerts", {}), tuple(AlertConfig.__dataclass_fields__))
    params = al.table.get("params", {})
    if not isinstance(params, Mapping):
        raise al.fail("params", "must be a table of the module's params")
    on = al.strings("on", ("dead", "loop"))
    for kind in on:
        if kind not in ("dead", "loop", "failure"):
            raise al.fail("on", f"unknown alert kind {kind!r} (known: dead, loop, failure)")
    alerts = AlertConfig(module=al.text("module", None), params=dict(params), on=on)

    raw_schedules = data.get("schedule", [])
    if not isinstance(raw_schedules, list):
        raise ConfigError(f"{where}: [[schedule]] must be an array of tables")
    schedules = []
    for i, item in enumerate(raw_schedules):
        r = _Reader(where, f"schedule #{i + 1}", item, ("name", "workflow", "every_minutes", "search", "trigger"))
        workflow = r.text("workflow", None)
        if not workflow:
            raise r.fail("workflow", "is required")
        search = r.table.get("search", {})
        if not isinstance(search, Mapping):
            raise r.fail("search", "must be a table of PyMISP search() arguments")
        schedules.append(Schedule(name=r.text("name", None) or workflow, workflow=workflow,
                                  every=r.number("every_minutes", 15.0, 0.01) * 60, search=dict(search),
                                  trigger=r.text("trigger", None)))
    names = [sc.name for sc in schedules]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: [[schedule]] names must be unique, got {', '.join(names)}")

    return ServiceConfig(
        workflows=_path(base, s.text("workflows", "workflows")), modules_url=s.text("modules_url", ServiceConfig.modules_url),
        node_timeout=s.number("node_timeout", 10.0, 0.1), workers=s.number("workers", 2, 1, whole=True),
        enabled_modules=s.text("enabled_modules", None), disabled_modules=s.strings("disabled_modules", ()),
        carry_module_data=s.flag("carry_module_data", False), host_org_id=host_org, adhoc_trigger=adhoc,
        shutdown_grace=s.number("shutdown_grace", 30.0, 0.0), reload_check=s.number("reload_check", 1.0, 0.0),
        transient_errors=s.strings("transient_errors", execution.DEFAULT_TRANSIENT_ERRORS),
        queue=queue, history=history, misp=misp, feed=feed, api=api, ui=ui, guard=guard, alerts=alerts,
        schedules=tuple(schedules), source=where)
