"""Test expansion module that never answers in time (until the server stops)."""

import threading

mispattributes = {"input": ["domain"], "format": "misp_standard"}
moduleinfo = {"version": "1", "author": "tests", "module-type": ["expansion"], "name": "Slow",
              "description": "slow", "logo": "", "requirements": [], "features": "", "references": [],
              "input": "", "output": ""}
_never = threading.Event()


def dict_handler(request):
    _never.wait(3)
    return {"results": {}}


def introspection():
    return mispattributes


def version():
    return moduleinfo
