# A module file exactly as written for upstream misp-modules: handler(q) gets the raw body.
import json

misperrors = {"error": "Error"}
mispattributes = {"input": ["domain", "hostname"], "output": ["ip-src", "ip-dst"]}
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Upstream-style expansion module",
              "module-type": ["expansion", "hover"], "name": "Upstream style", "logo": "",
              "requirements": [], "features": "", "references": [], "input": "", "output": ""}
moduleconfig = ["apikey"]


def handler(q=False):
    if q is False:
        return False
    request = json.loads(q)
    if request.get("domain"):
        toquery = request["domain"]
    elif request.get("hostname"):
        toquery = request["hostname"]
    else:
        misperrors["error"] = "Unsupported attributes type"
        return misperrors
    return {"results": [{"types": mispattributes["output"], "values": ["127.0.0.1"],
                         "comment": "%s as %s" % (toquery, type(q).__name__)}]}


def introspection():
    return mispattributes


def version():
    moduleinfo["config"] = moduleconfig
    return moduleinfo
