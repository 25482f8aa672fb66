import base64

mispattributes = {"input": [], "output": ["count"], "outputFileExtension": "txt", "responseType": "application/txt"}
moduleinfo = {"version": "0.1", "author": "Tests", "description": "Export a count", "module-type": ["export"], "name": "Count"}
moduleconfig = []


def dict_handler(request):
    return {"response": [], "data": base64.b64encode(str(len(request.get("data", []))).encode()).decode()}


def introspection():
    return mispattributes


def version():
    moduleinfo["config"] = moduleconfig
    return moduleinfo
