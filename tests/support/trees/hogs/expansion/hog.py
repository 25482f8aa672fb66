# A synchronous module that misbehaves as request["mode"] says; logs "hog <mode> started <id>" first.
#   regex: a catastrophic regex (C code holding the GIL); bigint: big-integer squaring (C, GIL);
#   spin: a pure-Python loop; exit: os._exit(1); segv: a segmentation fault; balloon: allocates
#   request["mb"] MB and holds them; leak: keeps request["mb"] MB more per call; pid: answers at once.
import ctypes
import logging
import os
import re
import time

log = logging.getLogger("misp_modules.tests.hog")
timeout = 60
concurrency = 2
moduleinfo = {"version": "1", "author": "Tests", "description": "Hog", "module-type": ["expansion"], "name": "Hog"}
_kept = []


def _rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def dict_handler(request):
    mode = request.get("mode", "pid")
    log.info("hog %s started %s", mode, request.get("id"))
    if mode == "regex":
        re.match(r"(a+)+$", "a" * 64 + "b")  # 2**64 steps
    elif mode == "bigint":
        x = 3 ** 63000
        for _ in range(40):
            x = x * x
    elif mode == "spin":
        while True:
            pass
    elif mode == "exit":
        os._exit(1)
    elif mode == "segv":
        ctypes.string_at(0)
    elif mode == "balloon":
        block = bytearray(int(request.get("mb", 100)) << 20)
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(60)
    elif mode == "leak":
        block = bytearray(int(request.get("mb", 50)) << 20)
        block[::4096] = b"x" * len(block[::4096])
        _kept.append(block)
    return {"results": [{"types": ["text"], "values": [str(os.getpid())]}], "pid": os.getpid(), "rss_mb": _rss_mb()}


def introspection():
    return {"input": ["text"], "output": ["text"]}


def version():
    return dict(moduleinfo, config=[])
