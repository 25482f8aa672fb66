# Calls another module through the server's in-process dispatch (like attach-enrichment).
from misp_modules.server.dispatch import query_module

isolation = "thread"  # runs in the server process (it needs the event loop / the dispatcher)
moduleinfo = {"version": "0.1", "author": "Tests", "description": "In-process", "module-type": ["action"],
              "name": "In-process"}


async def dict_handler(request):
    answer = await query_module(request["target"], request.get("payload", {}), request.get("inner_timeout"))
    return {"data": True, "inner": answer}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
