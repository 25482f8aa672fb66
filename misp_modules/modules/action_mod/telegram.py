"""Send a message about the workflow's data to a Telegram chat through a bot.

The message is a Jinja template over the workflow data rendered in Telegram's HTML parse mode
with autoescaping: event content is escaped, the template's own markup (``<b>``, ``<code>``,
``<a href>``) is not. Messages over Telegram's 4096-character limit are split (default) or
truncated (``long_messages = truncate``). Runs on the server's event loop with a fresh Bot per
call; ``retry_after`` is honoured within bounds. The Bot API URL is ``[services] telegram``.
"""

from misp_modules.contract.request import ParamError
from misp_modules.lib.declaration import declare_action, param
from misp_modules.lib.http import HttpPolicy
from misp_modules.lib.notify import telegram
from misp_modules.lib.notify.action import ActionRequest
from misp_modules.lib.notify.summary import HTML_TEMPLATE

MODULE = "telegram"

node = declare_action(
    module=MODULE, name="Telegram", version="1.0",
    description="Send a message about the event to a Telegram chat or channel through a bot. The message is "
                "a Jinja template (Telegram HTML; event content is escaped) over the workflow data; empty: "
                "a summary of the event (info, threat level, tags, counts, matching attributes).",
    requirements=["A Telegram bot token (from @BotFather) and the chat id; the bot must be in the chat"],
    features="HTML parse mode with correct escaping; long messages split or truncated; bounded retry on "
             "flood control (retry_after).",
    references=["https://core.telegram.org/bots/api#sendmessage"],
    input="Workflow roaming data",
    output="A message in the chat",
    timeout=60,  # s, the server-side deadline: above the per-request timeouts and 429 waits
    # renders user templates: in worker processes, where a heavy template (its garbage collections
    # included) never shares the GIL with the event loop (docs/server.md, "Isolation")
    isolation="process",
    # credentials whose param names do not say so: masked in -d logs, errors and tracebacks
    secret_params=("bot_token",),
    params={
        "bot_token": param("string", "Bot token from @BotFather", "123456:ABC-DEF..."),
        "chat_id": param("string", "Chat id (e.g. -1001234567890) or @channelusername", "@misp_alerts"),
        "message_template": param("large_string", "Jinja template of the message (Telegram HTML: <b>, <i>, <code>, "
                                  "<a href>); values are escaped. Empty: an event summary",
                                  "<b>{{ Event.info }}</b>"),
        "long_messages": param("string", "split (default: several messages) or truncate (one message)", "split"),
        "data_extraction_path": param("hash_path", "Hash path of values to list in the default message",
                                      "Event.Tag.{n}.name"),
    },
)


@node.sender
async def dict_handler(req: ActionRequest) -> None:
    token = req.require("bot_token", "the bot token from @BotFather")
    chat_id = req.require("chat_id", "the chat id or @channelusername")
    long_messages = req.choice("long_messages", ("split", "truncate"), "split")
    text = (await req.render_async("message_template", HTML_TEMPLATE, html=True)).strip()
    if not text:
        raise ParamError("param `message_template` rendered an empty message")
    texts = telegram.split_html(text) if long_messages == "split" else [telegram.truncate_html(text)]
    await telegram.send_messages(token, chat_id, texts, HttpPolicy.for_module(MODULE))
