# Takes every free file descriptor of the server process ("grab"), or gives them back ("release"):
# accept() then fails with EMFILE. Runs in the server (isolation "thread") to do that.
import os

isolation = "thread"
moduleinfo = {"version": "1", "author": "Tests", "description": "fd hog", "module-type": ["action"], "name": "fd hog"}
_held = []


def dict_handler(request):
    if request.get("mode") == "grab":
        try:
            while True:
                _held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
    else:
        while _held:
            os.close(_held.pop())
    return {"data": True, "held": len(_held)}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
