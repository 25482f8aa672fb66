"""Upstream misp-modules answering queries in-process, exactly as its own server would.

Run as ``python -I upstream_reference.py ROOT REQUESTS OUT``: ``ROOT`` holds upstream's unpacked
package (``ROOT/misp_modules``), ``REQUESTS`` a JSON list of ``/query`` bodies (strings, sent as
bytes), ``OUT`` receives a JSON object: ``loaded`` (``type/name`` of every module upstream's loader
imports), ``failed`` and ``answers`` (each answer's bytes, latin-1 decoded, so they round-trip).

Nothing here re-implements upstream: ``ROOT`` goes first on ``sys.path``, so ``misp_modules`` is
upstream's package; modules are found and imported with upstream's own functions, in the order of
upstream's ``main()``; each query runs through upstream's ``QueryModule.run_request`` (its
``dict_handler``/``handler`` choice and its ``orjson`` + pymisp encoding), unwrapped from its
thread pool. A module that raises gets upstream's error text, as upstream's ``post()`` writes it.
"""

import importlib
import json
import os
import sys
from pathlib import Path

import orjson


def main(root: str, requests_path: str, out_path: str) -> int:
    sys.path.insert(0, root)
    import misp_modules
    from misp_modules import __main__ as upstream

    if not Path(misp_modules.__file__).resolve().is_relative_to(Path(root).resolve()):
        raise SystemExit(f"misp_modules resolved to {misp_modules.__file__}, not upstream's package under {root}")
    misp_modules.promote_lib_to_root()
    loaded, failed = [], {}
    modules_dir = importlib.resources.files(upstream.__package__).joinpath(misp_modules.MODULES_DIR)
    for module_type, module in misp_modules.iterate_modules(modules_dir):
        name = os.path.splitext(module.name)[0]
        dotted = ".".join([upstream.__package__, misp_modules.MODULES_DIR, module_type.name, name])
        try:
            upstream.MODULES_HANDLERS[name] = importlib.import_module(dotted)
        except ImportError as exc:  # upstream's main() skips exactly these
            failed[f"{module_type.name}/{name}"] = f"{type(exc).__name__}: {exc}"
            continue
        upstream.MODULES_HANDLERS[f"type:{name}"] = module_type.name
        loaded.append(f"{module_type.name}/{name}")
    run_request = upstream.QueryModule.run_request.__wrapped__  # the body of run_on_executor's wrapper
    answers = []
    for body in json.loads(Path(requests_path).read_text()):
        raw = body.encode()
        request = orjson.loads(raw)  # as upstream's post()
        try:
            answer, _outcome = run_request(None, request["module"], raw, request)
        except Exception:  # upstream's post(): its generic error
            answer = b'{"error":"Something went wrong, look in the server logs for details"}'
        answers.append(answer.decode("latin-1"))
    Path(out_path).write_text(json.dumps({"loaded": sorted(loaded), "failed": failed, "answers": answers}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
