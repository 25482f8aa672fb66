# An async handler that blocks (time.sleep instead of await asyncio.sleep): on the event loop it
# would stall the whole server. Logs "blocker started <id>" first.
import logging
import os
import time

log = logging.getLogger("misp_modules.tests.async_blocker")
timeout = 30
moduleinfo = {"version": "1", "author": "Tests", "description": "Blocks", "module-type": ["action"], "name": "Blocker"}


async def dict_handler(request):
    log.info("blocker started %s", request.get("id"))
    time.sleep(float(request.get("hold", 3)))
    return {"data": True, "pid": os.getpid()}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
