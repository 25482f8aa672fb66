# A fast, upstream-style action module.
import json

moduleinfo = {"version": "0.1", "author": "Tests", "description": "Always succeeds",
              "module-type": ["action"], "name": "Notifier", "logo": "", "requirements": [],
              "features": "", "references": [], "input": "", "output": ""}
moduleconfig = {"params": {"channel": {"type": "string", "description": "Channel", "value": "#misp"},
                           "message_template": {"type": "large_string", "description": "Body",
                                                "jinja_supported": True}},
                "blocking": False, "support_filters": False, "expect_misp_core_format": False}
returns = "boolean"


def handler(q=False):
    if q is False:
        return False
    json.loads(q)
    return {"data": True}


def introspection():
    return {"config": moduleconfig}


def version():
    moduleinfo["config"] = moduleconfig
    return moduleinfo
