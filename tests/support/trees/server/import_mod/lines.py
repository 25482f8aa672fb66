import base64

mispattributes = {"inputSource": ["paste"], "output": ["text"], "format": "misp_standard"}
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Import lines", "module-type": ["import"], "name": "Lines"}
moduleconfig = []


def handler(q=False):
    import json
    request = json.loads(q)
    text = base64.b64decode(request["data"]).decode()
    return {"results": {"Attribute": [{"type": "text", "value": v} for v in text.splitlines()]}}


def introspection():
    return mispattributes


def version():
    moduleinfo["config"] = moduleconfig
    return moduleinfo
