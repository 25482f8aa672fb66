"""The one contract between the module server's workflow modules and the workflow runner.

docs/contract.md is its prose; this package is the code both sides share, so that what one side
writes the other reads with the same rules:

* :mod:`.ids` -- MISP's built-in node ids, how MISP names a misp-module's node, a logic node's kind;
* :mod:`.triggers` -- MISP's trigger table;
* :mod:`.request` -- a node's request: filters, params resolved as ``getParamsWithValues``;
* :mod:`.jinja` -- the one way a ``jinja_supported`` param is rendered;
* :mod:`.reply` -- a node's answer, written by modules and read by the runner;
* :mod:`.spec` -- what ``/modules`` says about a node (``misp_workflow``, MISP's translation of
  misp-module actions);
* :mod:`.changes` -- change records and the stored-event view they fold into;
* :mod:`.client` -- the client of the module protocol (``GET /modules``, ``POST /query``).

It depends on :mod:`misp_modules.semantics` (and the Jinja sandbox), never on the server, the
modules, ``lib`` or the runner.
"""
