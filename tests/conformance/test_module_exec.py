"""The conformance file's logic-module cases, through the real module server over HTTP.

``moduleExec`` cases (categories ``module_*``) were produced by running MISP's logic modules on
PHP. Each is posted to the running server as the runner posts it -- the module found through
``/modules`` by its MISP id (``meta.misp_workflow.id``), the data as ``getData()`` returns it --
and the answer's decision and output must be MISP's.

``roaming_filter`` cases give a roaming data with filters already recorded and what MISP's
``getData()`` returns for it. Here the filters are recorded the way a workflow records them:
posted one by one to ``generic-filter-data`` through the server, each time with the runner's
``getData()`` view; the view after the last one must be MISP's (the ``_unfilteredData`` snapshot
the module adds is not part of the reference case).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from misp_modules.semantics import php, roaming
from misp_modules.semantics.preg import PhpRegexWarning
from tests.support.data import hashpath_case_files
from tests.support.php_json import Pairs, canonical


def _cases(wanted) -> list[tuple[dict, Any]]:
    found = []
    for path in hashpath_case_files():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    case = php.loads(line)
                    if wanted(case["category"]):
                        expected = dict(json.loads(line, object_pairs_hook=Pairs))["expected"]
                        found.append((case, expected))
    return found


MODULE_CASES = _cases(lambda c: c.startswith("module_"))
FILTER_CASES = _cases(lambda c: c == "roaming_filter")


def post(server, module: str, data: Any, params: Any) -> dict:
    body = php.dumps({"module": module, "data": data, "params": params}).encode()
    status, answer = server.query(body)
    assert status == 200, answer
    assert isinstance(answer, dict), answer
    return answer


@pytest.fixture(scope="module")
def names(module_server) -> dict[str, str]:
    """MISP node id -> module name, from ``/modules`` alone (no table in the runner)."""
    found = {}
    for entry in module_server.modules():
        workflow = entry["meta"].get("misp_workflow")
        if workflow:
            found[workflow["id"]] = entry["name"]
    return found


def test_every_conformance_module_is_served(names) -> None:
    wanted = {case["module"] for case, _ in MODULE_CASES} | {"generic-filter-data"}
    assert wanted <= set(names), wanted - set(names)
    assert len(MODULE_CASES) >= 60 and len(FILTER_CASES) >= 10


@pytest.mark.parametrize("index", range(len(MODULE_CASES)), ids=[c["id"] for c, _ in MODULE_CASES])
def test_module_exec_case(module_server, names, index: int) -> None:
    case, expected = MODULE_CASES[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhpRegexWarning)
        view = roaming.get_data(case["data"])
    answer = post(module_server, names[case["module"]], view, case["params"])
    expected = dict(expected)
    assert expected["ok"], "every public moduleExec case returns"
    decision = dict(expected["result"])["return"]
    assert answer["result"] is decision, (case["id"], answer)
    assert answer["output"] == ("output_1" if decision else "output_2")


@pytest.mark.parametrize("index", range(len(FILTER_CASES)), ids=[c["id"] for c, _ in FILTER_CASES])
def test_roaming_filter_case(module_server, names, index: int) -> None:
    case, expected = FILTER_CASES[index]
    filters = case["data"].get("enabledFilters")
    data = {k: v for k, v in case["data"].items() if k != "enabledFilters"} if filters else case["data"]
    for label, f in php.iter_items(filters or []):
        params = {"filtering-label": label, "selector": f["selector"], "hash_path": f["path"],
                  "operator": f["operator"], "value": f["value"], "value_list": f["value"]}
        answer = post(module_server, names["generic-filter-data"], roaming.get_data(data), params)
        assert answer["result"] is True and answer["output"] == "output_1"
        data = php.loads(php.dumps(answer["data"]))
    view = roaming.get_data(data)
    if isinstance(view, dict):
        view = {k: v for k, v in view.items() if k != "_unfilteredData"}
    got = canonical(json.loads(php.dumps(view), object_pairs_hook=Pairs))
    assert got == canonical(dict(expected)["result"]), case["id"]
