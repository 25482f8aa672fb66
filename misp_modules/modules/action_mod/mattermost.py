"""Post a summary of the workflow's data to a Mattermost channel.

Two ways in: a bot (or personal) access token with a channel id (REST API v4), or an incoming
webhook URL. Params keep upstream's names, so workflows built for upstream's module keep
working; unlike upstream, any hostname form works, the token is verified once and reused, and
every call has a timeout (lib/notify/mattermost.py).
"""

from misp_modules.contract.request import ParamError
from misp_modules.lib.declaration import declare_action, param
from misp_modules.lib.http import HttpPolicy
from misp_modules.lib.notify import mattermost
from misp_modules.lib.notify.action import ActionRequest, check_url
from misp_modules.lib.notify.summary import TEXT_TEMPLATE

MODULE = "mattermost"

node = declare_action(
    module=MODULE, name="Mattermost", version="1.0",
    description="Post a message about the event to a Mattermost channel, with a bot access token "
                "(REST API v4) or an incoming webhook. The message is a Jinja template over the "
                "workflow data (Event, data, filteredItems, matchingData, summary); empty: a summary "
                "of the event (info, threat level, tags, counts, matching attributes).",
    logo="mattermost.png",
    requirements=["A Mattermost bot access token and the channel id, or an incoming webhook URL"],
    features="Any server address form (host, host:port, URL with a path prefix); the token is "
             "verified once per server; long messages are split; HTTP 429 is retried within bounds.",
    references=["https://api.mattermost.com/#tag/posts/operation/CreatePost",
                "https://developers.mattermost.com/integrate/webhooks/incoming/"],
    input="Workflow roaming data (e.g. an event from the event-publish trigger)",
    output="A post in the channel",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    # renders user templates: in worker processes, where a heavy template (its garbage collections
    # included) never shares the GIL with the event loop (docs/server.md, "Isolation")
    isolation="process",
    # credentials whose param names do not say so: masked in -d logs, errors and tracebacks
    secret_params=("bot_access_token", "incoming_webhook_url"),
    params={
        "mattermost_hostname": param("string", "Mattermost server: host, host:port or URL (https is assumed)",
                                     "chat.example.org"),
        "bot_access_token": param("string", "Bot or personal access token (not needed with an incoming webhook)"),
        "channel_id": param("string", "Id of the channel to post in (26 characters; the bot must be a member)"),
        "incoming_webhook_url": param("string", "Incoming webhook URL: used instead of the token and channel id",
                                      "https://chat.example.org/hooks/xxxxxxxxxxxxxxxxxxxxxxxxxx"),
        "message_template": param("large_string", "Jinja template of the message (Markdown); empty: an event summary",
                                  "{{ summary.title }} ({{ summary.tags|join(', ') }})"),
        "data_extraction_path": param("hash_path", "Hash path of values to list in the default message "
                                      "(matchingData['Data Extraction Path'] in templates)", "Event.Tag.{n}.name"),
    },
)


@node.sender
def dict_handler(req: ActionRequest) -> None:
    policy = HttpPolicy.for_module(MODULE, gated=True)  # the address comes from the node: egress rules apply
    message = req.render("message_template", TEXT_TEMPLATE)
    if not message.strip():
        raise ParamError("param `message_template` rendered an empty message")
    webhook = req.get("incoming_webhook_url")
    if webhook:
        check_url("incoming_webhook_url", webhook)
        mattermost.post_webhook(webhook, message, policy)
        return
    base = mattermost.server_url(req.get("mattermost_hostname"))
    token = req.require("bot_access_token", "a bot access token, or an incoming webhook URL")
    channel = req.require("channel_id", "the id of the channel to post in")
    mattermost.post(base, token, channel, message, policy)
