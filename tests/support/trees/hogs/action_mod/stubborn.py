# An async handler that ignores its cancellation (catches it and keeps waiting).
import asyncio
import logging

log = logging.getLogger("misp_modules.tests.stubborn")
isolation = "thread"
concurrency = 1
moduleinfo = {"version": "1", "author": "Tests", "description": "Stubborn", "module-type": ["action"],
              "name": "Stubborn"}


async def dict_handler(request):
    log.info("stubborn started %s", request.get("id"))
    end = asyncio.get_running_loop().time() + float(request.get("hold", 0))
    while asyncio.get_running_loop().time() < end:
        try:
            await asyncio.sleep(end - asyncio.get_running_loop().time())
        except asyncio.CancelledError:
            log.info("stubborn ignores its cancellation %s", request.get("id"))
    return {"data": True, "id": request.get("id")}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
