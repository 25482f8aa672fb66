# Holds its slot for request["hold"] seconds (a hung service); logs when it starts.
import logging
import threading

log = logging.getLogger("misp_modules.tests.slow")
concurrency = 2
timeout = 10
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Slow", "module-type": ["action"], "name": "Slow"}
moduleconfig = {"params": {}, "blocking": False, "support_filters": False, "expect_misp_core_format": False}


def dict_handler(request):
    log.info("slow started %s", request.get("id"))
    threading.Event().wait(float(request.get("hold", 5)))
    log.info("slow finished %s", request.get("id"))
    return {"data": True, "id": request.get("id")}


def introspection():
    return {"config": moduleconfig}


def version():
    return dict(moduleinfo, config=moduleconfig)
