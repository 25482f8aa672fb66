# A synchronous module calling another module through the server (from its worker thread).
from misp_modules.server.dispatch import query_module_blocking

isolation = "thread"  # runs in the server process (it needs the event loop / the dispatcher)
moduleinfo = {"version": "0.1", "author": "Tests", "description": "In-process (sync)", "module-type": ["action"],
              "name": "In-process sync"}


def dict_handler(request):
    return {"data": True, "inner": query_module_blocking(request["target"], request.get("payload", {}),
                                                         request.get("inner_timeout"))}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
