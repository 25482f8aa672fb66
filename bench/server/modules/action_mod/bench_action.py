"""The benchmark's trivial action module, written for upstream misp-modules (both servers load
it unchanged through -c): parse the request, answer success."""

import json

moduleinfo = {"version": "0.1", "author": "bench", "description": "Trivial action for benchmarks",
              "module-type": ["action"], "name": "Bench action", "logo": "", "requirements": [],
              "features": "", "references": [], "input": "", "output": ""}
moduleconfig = {"params": {"message": {"type": "string", "description": "ignored"}},
                "blocking": False, "support_filters": False, "expect_misp_core_format": False}


def handler(q=False):
    if q is False:
        return False
    request = json.loads(q)
    return {"data": bool(request.get("data"))}


def introspection():
    return {"config": moduleconfig}


def version():
    moduleinfo["config"] = moduleconfig
    return moduleinfo
