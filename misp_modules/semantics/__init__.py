"""MISP's data semantics, shared by every module and the workflow runner.

* :mod:`.php` -- PHP 8's value model (keys, loose comparison, emptiness, json_decode/encode);
* :mod:`.hashpath` -- CakePHP 2.x ``Hash`` (``extract``, ``get``, ``insert``, ...);
* :mod:`.conditions` -- MISP's ``extractData``/``evaluateCondition``/``getItemsMatchingCondition``;
* :mod:`.roaming` -- ``WorkflowRoamingData::getData`` and the generic filter modules;
* :mod:`.decisions` -- the logic modules' decisions as pure functions;
* :mod:`.inflector` -- CakePHP ``Inflector`` (misp-module param ids and labels);
* :mod:`.convert` -- the roaming data each trigger builds (MISP core format).

Every function accepts data as plain ``json``/``orjson`` decodes it, or as :func:`php.loads`
does. docs/semantics.md describes the value model, the exceptions and the deviations from MISP.
"""
