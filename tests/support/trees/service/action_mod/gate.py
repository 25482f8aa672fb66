# A node that holds a run until a test opens its gate (tests/support/trees/service/README.md).
import os
import time

timeout = 90
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Wait for a gate file", "module-type": ["action"],
              "name": "Gate"}
moduleconfig = {"params": {"entered": {"type": "string", "description": "file created on entry", "value": ""},
                           "gate": {"type": "string", "description": "file to wait for", "value": ""}},
                "blocking": False, "support_filters": False, "expect_misp_core_format": False}


def dict_handler(request):
    params = request.get("params") or {}
    entered, gate = params.get("entered"), params.get("gate")
    if entered:
        with open(entered, "a") as handle:
            handle.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"data": True}


def introspection():
    return {"config": moduleconfig}


def version():
    return dict(moduleinfo, config=moduleconfig)
