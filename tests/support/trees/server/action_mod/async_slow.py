# A native async module: awaits request["hold"] seconds; logs start and cancellation.
import asyncio
import logging
import os

log = logging.getLogger("misp_modules.tests.async_slow")
concurrency = 50
isolation = "thread"  # runs in the server process (it needs the event loop / the dispatcher)
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Async", "module-type": ["action"], "name": "Async"}
moduleconfig = {"params": {}, "blocking": False, "support_filters": False, "expect_misp_core_format": False}


async def dict_handler(request):
    log.info("async started %s", request.get("id"))
    try:
        await asyncio.sleep(float(request.get("hold", 0)))
    except asyncio.CancelledError:
        log.info("async cancelled %s", request.get("id"))
        raise
    return {"data": True, "id": request.get("id"), "pid": os.getpid()}


def introspection():
    return {"config": moduleconfig}


def version():
    return dict(moduleinfo, config=moduleconfig)
