# Raises, with the request's token inside the message (as an HTTP client error would).
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Raises", "module-type": ["action"], "name": "Boom"}


def dict_handler(request):
    token = request.get("params", {}).get("bot_token", "")
    raise ConnectionError(f"POST https://api.telegram.org/bot{token}/sendMessage failed (token {token})")


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
