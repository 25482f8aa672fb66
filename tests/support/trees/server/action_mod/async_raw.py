# An async handler(q): gets the raw body like an upstream handler.
import json

moduleinfo = {"version": "0.1", "author": "Tests", "description": "Async raw", "module-type": ["action"],
              "name": "Async raw"}


async def handler(q=False):
    return {"data": True, "got": type(q).__name__, "module": json.loads(q)["module"]}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
