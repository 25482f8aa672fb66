"""Test expansion module (simplified format, no settings): answers with the request it received."""

mispattributes = {"input": ["domain", "hostname"], "output": ["ip-dst"]}
moduleinfo = {"version": "1", "author": "tests", "module-type": ["expansion"], "name": "Echo legacy",
              "description": "echo", "logo": "", "requirements": [], "features": "", "references": [],
              "input": "", "output": ""}


def dict_handler(request):
    return {"results": [{"types": ["ip-dst"], "values": ["192.0.2.1", "192.0.2.2"], "categories": ["Network activity"],
                         "request": request}]}


def introspection():
    return mispattributes


def version():
    return moduleinfo
