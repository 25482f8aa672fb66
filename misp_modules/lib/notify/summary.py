"""What a notification says: the template context and the default templates.

Every notification is a sandboxed Jinja template over the module's input. The context has the
roaming data's top-level keys as variables (``Event``, ``Log``, ``User``... as in MISP's own
Jinja rendering, so ``{{ Event.info }}`` works), plus ``data``, ``filteredItems``,
``matchingData`` and ``summary``: the event digested once here (title, facts, tags, counts,
matching attributes, a link) so that the default templates and users' templates stay short.
Params are deliberately not in the context: they hold tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from misp_modules.semantics.php import array_values, flag
from misp_modules.settings import get_settings

THREAT_LEVELS = {"1": "High", "2": "Medium", "3": "Low", "4": "Undefined"}
ANALYSIS = {"0": "Initial", "1": "Ongoing", "2": "Completed"}
DISTRIBUTION = {"0": "Your organisation only", "1": "This community only", "2": "Connected communities",
                "3": "All communities", "4": "Sharing group", "5": "Inherit event"}
MAX_MATCHED = 20  # attributes listed by the default templates; the rest are counted

TEXT_TEMPLATE = """\
#### {{ summary.title }}
{% for name, value in summary.facts %}**{{ name }}:** {{ value }}
{% endfor %}{% if summary.matched %}
**Matching attributes ({{ summary.matched_total }}):**
{% for a in summary.matched %}- {{ a.category ~ ' / ' if a.category }}{{ a.type }}: `{{ a.value|replace('`', "'") }}`{{ ' (IDS)' if a.to_ids }}
{% endfor %}{% if summary.more %}- ... and {{ summary.more }} more
{% endif %}{% endif %}{% for label, values in summary.extracted.items() %}
**{{ label }}:** {{ values|join(', ') }}
{% endfor %}{% if summary.url %}
[Open in MISP]({{ summary.url }})
{% endif %}"""
"""Markdown (Mattermost)."""

PLAIN_TEMPLATE = """\
{{ summary.title }}

{% for name, value in summary.facts %}{{ name }}: {{ value }}
{% endfor %}{% if summary.matched %}
Matching attributes ({{ summary.matched_total }}):
{% for a in summary.matched %}  - {{ a.category ~ ' / ' if a.category }}{{ a.type }}: {{ a.value }}{{ ' (IDS)' if a.to_ids }}
{% endfor %}{% if summary.more %}  - ... and {{ summary.more }} more
{% endif %}{% endif %}{% for label, values in summary.extracted.items() %}
{{ label }}: {{ values|join(', ') }}
{% endfor %}{% if summary.url %}
{{ summary.url }}
{% endif %}"""
"""Plain text (e-mail body)."""

HTML_TEMPLATE = """\
<b>{{ summary.title }}</b>
{% for name, value in summary.facts %}<b>{{ name }}:</b> {{ value }}
{% endfor %}{% if summary.matched %}
<b>Matching attributes ({{ summary.matched_total }}):</b>
{% for a in summary.matched %}• {{ a.type }}: <code>{{ a.value }}</code>{{ ' (IDS)' if a.to_ids }}
{% endfor %}{% if summary.more %}• ... and {{ summary.more }} more
{% endif %}{% endif %}{% for label, values in summary.extracted.items() %}
<b>{{ label }}:</b> {{ values|join(', ') }}
{% endfor %}{% if summary.url %}
<a href="{{ summary.url }}">Open in MISP</a>
{% endif %}"""
"""Telegram HTML; rendered with autoescaping, so event content is escaped and this markup is not."""

SUBJECT_TEMPLATE = "[MISP] {{ summary.title }}"


def template_context(request: Mapping[str, Any], *, link_base: str | None = None) -> dict[str, Any]:
    """The variables a notification template sees (see the module docstring)."""
    data = request.get("data")
    filtered = request.get("filteredItems")
    matching = request.get("matchingData")
    if not isinstance(matching, Mapping):
        matching = {}
    context: dict[str, Any] = dict(data) if isinstance(data, Mapping) else {}
    context.update(
        data=data,
        filteredItems=filtered,
        matchingData=matching,
        summary=summarise(data, filtered, matching, link_base=link_base),
    )
    return context


def link_base(module: str) -> str | None:
    """Base URL for "Open in MISP" links: ``[modules.<module>] misp_url``, else ``[misp] url``."""
    settings = get_settings()
    base = settings.module_setting(module, "misp_url") or settings.misp.url
    return base.rstrip("/") if isinstance(base, str) and base else None


def summarise(data: Any, filtered: Any = None, matching: Mapping[str, Any] | None = None,
              *, link_base: str | None = None) -> dict[str, Any]:
    """The digest of the roaming data that the default templates show."""
    summary: dict[str, Any] = {"kind": "data", "title": "MISP workflow notification", "facts": [],
                               "event": None, "tags": [], "url": None}
    root = data if isinstance(data, Mapping) else {}
    event = root.get("Event")
    if isinstance(event, Mapping):
        _summarise_event(summary, event, link_base)
    elif isinstance(root.get("Log"), Mapping):
        log = root["Log"]
        summary.update(kind="log", title=f"MISP log: {_text(log.get('title')) or _text(log.get('action'))}")
        summary["facts"] = _present([("Model", f"{_text(log.get('model'))} {_text(log.get('model_id'))}".strip()),
                                     ("Action", _text(log.get("action"))), ("User", _text(log.get("email"))),
                                     ("Organisation", _text(log.get("org"))), ("Date", _text(log.get("created"))),
                                     ("Change", _text(log.get("change"))[:500])])
    elif root:
        key, value = next(iter(root.items()))
        record = value if isinstance(value, Mapping) else root
        name = key if isinstance(value, Mapping) else "data"
        summary.update(kind=str(name).lower(), title=f"MISP {name}")
        summary["facts"] = _present([(str(k), _text(v)) for k, v in record.items()
                                     if isinstance(v, (str, int, float, bool)) and "password" not in str(k).lower()][:12])
    matched = [_attribute(a) for a in array_values(filtered)] if _is_selection(filtered, data) else []
    matched = [a for a in matched if a is not None]
    summary["matched_total"] = len(matched)
    summary["matched"] = matched[:MAX_MATCHED]
    summary["more"] = max(0, len(matched) - MAX_MATCHED)
    summary["extracted"] = {str(label): [_text(v) for v in array_values(values)]
                            for label, values in (matching or {}).items()
                            if values is not data and values != data and array_values(values)}
    return summary


def _summarise_event(summary: dict[str, Any], event: Mapping[str, Any], link_base: str | None) -> None:
    event_id = _text(event.get("id"))
    info = _text(event.get("info")) or "(no info)"
    tags = tag_names(event)
    orgc = event.get("Orgc") if isinstance(event.get("Orgc"), Mapping) else {}
    attributes = array_values(event.get("Attribute"))
    objects = array_values(event.get("Object"))
    object_attributes = sum(len(array_values(o.get("Attribute"))) for o in objects if isinstance(o, Mapping))
    summary.update(
        kind="event", event=event, id=event_id, uuid=_text(event.get("uuid")), info=info,
        title=f"MISP event {event_id}: {info}" if event_id else f"MISP event: {info}",
        org=_text(orgc.get("name")), date=_text(event.get("date")),
        threat_level=THREAT_LEVELS.get(_text(event.get("threat_level_id")), _text(event.get("threat_level_id"))),
        analysis=ANALYSIS.get(_text(event.get("analysis")), _text(event.get("analysis"))),
        distribution=DISTRIBUTION.get(_text(event.get("distribution")), _text(event.get("distribution"))),
        published=flag(event.get("published")), tags=tags,
        attribute_count=len(attributes), object_count=len(objects), object_attribute_count=object_attributes,
    )
    if link_base and event_id:
        summary["url"] = f"{link_base}/events/view/{event_id}"
    counts = f"{len(attributes)} attributes, {len(objects)} objects"
    if object_attributes:
        counts += f" ({object_attributes} object attributes)"
    summary["facts"] = _present([
        ("Organisation", summary["org"]), ("Date", summary["date"]),
        ("Threat level", summary["threat_level"]), ("Analysis", summary["analysis"]),
        ("Distribution", summary["distribution"]),
        ("Published", "yes" if summary["published"] else "no") if "published" in event else ("", ""),
        ("Tags", ", ".join(tags)), ("Content", counts),
    ])


def tag_names(holder: Mapping[str, Any]) -> list[str]:
    """Tag names of an event or attribute, in both MISP shapes (``Tag`` list or ``EventTag``)."""
    names = []
    for tag in array_values(holder.get("Tag")):
        if isinstance(tag, Mapping) and tag.get("name"):
            names.append(str(tag["name"]))
    for link in array_values(holder.get("EventTag")):
        tag = link.get("Tag") if isinstance(link, Mapping) else None
        if isinstance(tag, Mapping) and tag.get("name") and str(tag["name"]) not in names:
            names.append(str(tag["name"]))
    return names


def _is_selection(filtered: Any, data: Any) -> bool:
    """MISP sends the whole roaming data as ``filteredItems`` when nothing matched or no filter
    is set; only a real selection lists "matching attributes"."""
    if filtered is None or filtered is data:
        return False
    if isinstance(filtered, Mapping) and ("Event" in filtered or filtered == data):
        return False
    return bool(array_values(filtered))


def _attribute(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, Mapping) or "value" not in item:
        return None
    return {"type": _text(item.get("type")), "value": _text(item.get("value")),
            "category": _text(item.get("category")), "to_ids": flag(item.get("to_ids")),
            "uuid": _text(item.get("uuid"))}


def _present(facts: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in facts if name and value not in ("", None)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
