# Returns request["return"] when present, else the request itself (as parsed by the server).
moduleinfo = {"version": "1", "author": "Tests", "description": "Echo", "module-type": ["expansion"], "name": "Echo"}


def dict_handler(request):
    if "return" in request:
        return request["return"]
    return request


def introspection():
    return {"input": ["text"], "output": ["text"]}


def version():
    return dict(moduleinfo, config=[])
