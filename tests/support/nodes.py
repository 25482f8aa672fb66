"""One way to ask a module for a node's answer, as the runner asks: through a server over HTTP
(``query_node``) or in process through the module's ``dict_handler`` (``call_node``)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.support.harness import ModuleServer

NO_FILTER = {"selector": "", "value": "", "operator": "", "path": ""}


def node_request(module: str, data: Any, params: Any = None, filters: dict | None = None, *,
                 node_id: str = "1", **extra: Any) -> dict[str, Any]:
    """The runner's request body: the node's id and saved filters (none by default) beside data
    and params; ``extra`` adds top-level fields (``node`` entries are merged into the node)."""
    node = {"id": node_id, "saved_filters": NO_FILTER if filters is None else filters, **extra.pop("node", {})}
    return {"module": module, "data": data, "params": {} if params is None else params, "node": node, **extra}


def query_node(server: ModuleServer, module: str, data: Any, params: Any = None, filters: dict | None = None,
               **extra: Any) -> dict[str, Any]:
    """POST the node request to ``server``; the answer, which must be a 200 JSON object."""
    status, answer = server.query(node_request(module, data, params, filters, **extra))
    assert status == 200 and isinstance(answer, dict), (status, answer)
    return answer


def call_node(module: ModuleType, data: Any, params: Any = None, filters: dict | None = None,
              **extra: Any) -> dict[str, Any]:
    """The same request handed to a module's ``dict_handler`` in process."""
    name = module.__name__.rsplit(".", 1)[-1]
    return module.dict_handler(node_request(name, data, params, filters, **extra))
