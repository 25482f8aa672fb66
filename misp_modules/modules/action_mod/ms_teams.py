"""Post a card about the workflow's data to a Microsoft Teams channel.

Default: a Teams Workflows webhook ("Post to a channel when a webhook request is received")
with an Adaptive Card; ``card_format = messagecard`` sends the legacy connector MessageCard
through pymsteams for servers that still have Office 365 connectors. The card shows the event
summary (title, facts, matching attributes, extracted values, link); ``message_template`` adds
a text block (a Jinja template over the workflow data). MISP's own ``ms-teams-webhook`` node
posts raw JSON as a form, which Workflows cannot use: that is the gap this module fills.
"""

from misp_modules.lib.declaration import declare_action, param
from misp_modules.lib.http import HttpPolicy
from misp_modules.lib.notify import teams
from misp_modules.lib.notify.action import ActionRequest

MODULE = "ms_teams"

node = declare_action(
    module=MODULE, name="Microsoft Teams", version="1.0",
    description="Post an Adaptive Card about the event to a Teams Workflows webhook (or a MessageCard to a "
                "legacy connector). The card summarises the event (info, threat level, tags, counts, "
                "matching attributes); an optional Jinja message template adds text.",
    requirements=["A Teams Workflows webhook URL (or a legacy Incoming Webhook connector URL)"],
    features="Adaptive Card 1.4 or MessageCard; 202 with an empty body is success; bounded retry on 429.",
    references=["https://learn.microsoft.com/en-us/connectors/teams/?tabs=text1#microsoft-teams-webhook"],
    input="Workflow roaming data",
    output="A card in the Teams channel",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    # renders user templates: in worker processes, where a heavy template (its garbage collections
    # included) never shares the GIL with the event loop (docs/server.md, "Isolation")
    isolation="process",
    # credentials whose param names do not say so: masked in -d logs, errors and tracebacks
    secret_params=("webhook_url",),
    params={
        "webhook_url": param("string", "Teams Workflows webhook URL (or legacy connector URL)",
                             "https://prod-00.westeurope.logic.azure.com:443/workflows/..."),
        "card_format": param("string", "adaptive (default: Workflows webhooks) or messagecard (legacy connectors)",
                             "adaptive"),
        "message_template": param("large_string", "Jinja template of a text added to the card (Markdown)",
                                  "Published by {{ Event.Orgc.name }}"),
        "data_extraction_path": param("hash_path", "Hash path of values to list on the card", "Event.Tag.{n}.name"),
    },
)


@node.sender
def dict_handler(req: ActionRequest) -> None:
    url = req.url("webhook_url", "the Teams webhook URL")
    card_format = req.choice("card_format", ("adaptive", "messagecard"), "adaptive")
    context = req.context()
    text = req.render("message_template", "", context=context) if req.params["message_template"] else ""
    policy = HttpPolicy.for_module(MODULE, gated=True)  # the address comes from the node: egress rules apply
    if card_format == "adaptive":
        teams.post_adaptive(url, teams.adaptive_card(context["summary"], text), policy)
    else:
        teams.post_message_card(teams.message_card(url, context["summary"], text, policy), policy)
