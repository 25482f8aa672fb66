"""Microsoft Teams: a Workflows webhook with an Adaptive Card, or a legacy connector MessageCard.

Workflows (Power Automate) webhooks are the current way in (docs/external-services.md §2.2): a JSON
``message`` with an Adaptive Card attachment, answered 202 with an empty body. The retired
Office 365 connectors take a MessageCard, built with ``pymsteams`` and sent through the
policy's session (``connectorcard.send()`` posts with a bare ``requests.post``, which no egress
rule or credential-stripping redirect handling could reach). The webhook URL is the credential (``sig=``): it never appears in a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pymsteams

from misp_modules.lib.http import HttpPolicy, send_with_retry, status_failure, target_of

SERVICE = "Microsoft Teams"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
_RED, _ORANGE, _GREEN, _GREY = "E81123", "FF8C00", "107C10", "605E5C"
_LEVEL_COLOURS = {"High": _RED, "Medium": _ORANGE, "Low": _GREEN}
_MEANINGS = {
    400: "the webhook refused the message",
    401: "the webhook URL was rejected (check its signature)",
    403: "the webhook URL was rejected (check its signature)",
    404: "webhook not found (was the flow or connector deleted?)",
    413: "the card is too large (Teams accepts about 28 KB)",
}


def adaptive_card(summary: Mapping[str, Any], text: str = "") -> dict[str, Any]:
    """The Workflows envelope around an Adaptive Card 1.4 for the summary (and ``text``)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": summary["title"], "weight": "Bolder", "size": "Medium", "wrap": True},
    ]
    if summary.get("facts"):
        body.append({"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in summary["facts"]]})
    if summary.get("matched"):
        lines = [f"- {a['type']}: {a['value']}{' (IDS)' if a['to_ids'] else ''}" for a in summary["matched"]]
        if summary.get("more"):
            lines.append(f"- ... and {summary['more']} more")
        body.append({"type": "TextBlock", "text": f"Matching attributes ({summary['matched_total']}):",
                     "weight": "Bolder", "wrap": True})
        body.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True})
    for label, values in (summary.get("extracted") or {}).items():
        body.append({"type": "TextBlock", "text": f"**{label}:** {', '.join(values)}", "wrap": True})
    if text.strip():
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    content: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                               "type": "AdaptiveCard", "version": "1.4", "body": body}
    if summary.get("url"):
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Open in MISP", "url": summary["url"]}]
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE, "contentUrl": None, "content": content}]}


def message_card(url: str, summary: Mapping[str, Any], text: str, policy: HttpPolicy) -> pymsteams.connectorcard:
    """A legacy connector MessageCard for the summary, built with pymsteams."""
    card = pymsteams.connectorcard(url, http_timeout=policy.timeout, verify=policy.verify)
    card.title(summary["title"])
    card.summary(summary["title"])
    card.color(_LEVEL_COLOURS.get(summary.get("threat_level", ""), _GREY))
    card.text(text.strip() or summary["title"])
    if summary.get("facts") or summary.get("matched"):
        section = pymsteams.cardsection()
        for name, value in summary.get("facts", []):
            section.addFact(name, value)
        for attribute in summary.get("matched", []):
            section.addFact(attribute["type"], attribute["value"])
        card.addSection(section)
    if summary.get("url"):
        card.addLinkButton("Open in MISP", summary["url"])
    return card


def post_adaptive(url: str, envelope: Mapping[str, Any], policy: HttpPolicy) -> None:
    """POST the envelope; 2xx (202 with an empty body from Workflows) is success."""
    _post(url, envelope, policy)


def post_message_card(card: pymsteams.connectorcard, policy: HttpPolicy) -> None:
    """What ``card.send()`` posts (its JSON payload), with our session, retry and wording."""
    _post(card.hookurl, card.payload, policy)


def _post(url: str, payload: Mapping[str, Any], policy: HttpPolicy) -> None:
    """POST ``payload`` as JSON; any 2xx (202 with an empty body from Workflows) is success."""
    target = target_of(url)
    with policy.session() as session:
        response = send_with_retry(
            lambda: session.post(url, json=payload, timeout=policy.timeout), policy, service=SERVICE,
            target=target, secrets=[url])
    if not 200 <= response.status_code < 300:
        raise status_failure(response, service=SERVICE, target=target, secrets=[url], meanings=_MEANINGS)
