# Uses everything upstream's server gives a module file: its package's __init__, misp_modules.lib.*,
# bare lib/ names, ../../data beside modules/, importlib.resources on misp_modules; and has both
# handlers (upstream retries handler(q) when dict_handler raises AttributeError).
import json
import time
from importlib import resources
from pathlib import Path

import bare_helper

from misp_modules.lib.shared_helper import GREETING

from . import standard_error_message

moduleinfo = {"version": "1", "author": "Tests", "description": "Probe", "module-type": ["expansion"], "name": "Probe"}
DATA = Path(__file__).resolve().parents[2] / "data" / "thing" / "definition.json"


def dict_handler(request):
    if request.get("hold"):
        time.sleep(float(request["hold"]))
    if request.get("attribute_error"):
        return request.missing_attribute
    return {"results": {
        "greeting": GREETING,
        "shout": bare_helper.shout("bare"),
        "message": standard_error_message,
        "data_file": json.loads(DATA.read_text())["name"],
        "resource": json.loads(resources.files("misp_modules").joinpath("data", "thing", "definition.json").read_text())["name"],
        "package": __name__,
    }}


def handler(q=False):
    return {"results": "handler(q) after AttributeError", "q": json.loads(q)["module"]}


def introspection():
    return {"input": ["text"], "output": ["text"]}


def version():
    return moduleinfo
