"""Test expansion module (misp_standard, one setting): answers with the request it received."""

mispattributes = {"input": ["ip-src", "ip-dst", "domain"], "format": "misp_standard"}
moduleinfo = {"version": "1", "author": "tests", "module-type": ["expansion", "hover"], "name": "Echo",
              "description": "echo", "logo": "", "requirements": [], "features": "", "references": [],
              "input": "", "output": ""}
moduleconfig = ["apikey", "region"]


def dict_handler(request):
    if request.get("attribute", {}).get("value") == "fail.example":
        return {"error": "echo refuses fail.example"}
    if request.get("attribute", {}).get("value") == "garbage.example":
        return {"no": "results"}
    return {"results": {"Attribute": [], "Object": [], "request": request}}


def introspection():
    return mispattributes


def version():
    moduleinfo["config"] = moduleconfig
    return moduleinfo
