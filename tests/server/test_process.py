"""The process: command line, startup checks, module loading rules, workers, SIGTERM."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.support.data import SERVER_MODULES
from tests.support.harness import Background, ModuleServer, ServerFailed, run_server_command

LOOPBACK = ["-l", "127.0.0.1", "-p", "0"]


def write_module(root: Path, type_dir: str, name: str, body: str = "", module_type: str | None = None) -> Path:
    module_type = module_type or {"expansion": "expansion", "action_mod": "action", "import_mod": "import",
                                  "export_mod": "export"}.get(type_dir, "workflow")
    path = root / type_dir / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body) or textwrap.dedent(f"""
        moduleinfo = {{"version": "1", "description": "d", "module-type": [{module_type!r}], "name": {name!r}}}
        def handler(q=False):
            return {{"data": True}}
        def introspection():
            return {{}}
        def version():
            return dict(moduleinfo, config={{}})
    """))
    return path


def test_test_mode_loads_binds_and_exits_0():
    result = run_server_command(["-t", *LOOPBACK, "-c", SERVER_MODULES])
    assert result.returncode == 0, result.stderr
    assert "MISP modules server started on 127.0.0.1:" in result.stderr
    assert "MISP modules started in test-mode, quitting immediately." in result.stderr
    assert "CUSTOM MISP module notifier (type=action_mod) imported" in result.stderr


def test_upstream_flags_are_accepted():
    for extra in (["-s"], ["-s", "/ignored"], ["--system", "x"], ["-d"], ["--debug-extended"]):
        result = run_server_command(["-t", *LOOPBACK, *extra])
        assert result.returncode == 0, (extra, result.stderr)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use_is_one_clear_line_and_non_zero_exit(workers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_server_command(["-l", "127.0.0.1", "-p", str(port), "--workers", workers])
    assert result.returncode != 0
    assert f"Could not listen on 127.0.0.1:{port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_config_stops_startup_naming_file_and_key(tmp_path):
    config = tmp_path / "mm.toml"
    config.write_text("[server]\ndefault_timeout = 'ten'\n")
    result = run_server_command(["-t", *LOOPBACK, "--config", str(config)])
    assert result.returncode != 0
    assert f"{config}: [server] default_timeout: must be a positive number of seconds, got 'ten'" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_from_environment_variable(tmp_path):
    config = tmp_path / "mm.toml"
    config.write_text("[modules.notifier]\nconcurrency = 0\n")
    result = run_server_command(["-t", *LOOPBACK], env={"MISP_MODULES_CONFIG": str(config)})
    assert result.returncode != 0
    assert "[modules.notifier] concurrency: must be a whole number, at least 1, got 0" in result.stderr


def test_import_failures_are_logged_and_skipped(custom_server):
    logs = custom_server.logs()
    assert "CUSTOM MISP module broken (type=action_mod) failed: RuntimeError: cannot configure the broken module" in logs
    assert ("CUSTOM MISP module missing_dep (type=action_mod) failed: ModuleNotFoundError: "
            "No module named 'a_dependency_that_is_not_installed'") in logs
    names = {m["name"] for m in custom_server.modules()}
    assert {"broken", "missing_dep", "_private", "_helper", "nested", "notes"}.isdisjoint(names)
    assert custom_server.query({"module": "relative"}) == (200, {"data": "from _helper"})


def test_duplicate_names_across_types_are_a_startup_error(tmp_path):
    first = write_module(tmp_path, "expansion", "twin")
    second = write_module(tmp_path, "action_mod", "twin")
    result = run_server_command(["-t", *LOOPBACK, "-c", str(tmp_path)])
    assert result.returncode != 0
    assert f"two modules are named 'twin': {first} and {second}" in result.stderr


def test_custom_module_cannot_replace_a_builtin(tmp_path):
    custom = write_module(tmp_path, "expansion", "jinja_template_rendering")
    result = run_server_command(["-t", *LOOPBACK, "-c", str(tmp_path)])
    assert result.returncode != 0
    assert "two modules are named 'jinja_template_rendering'" in result.stderr and str(custom) in result.stderr


@pytest.mark.parametrize("name, node_id", [("webhook", "webhook"), ("tagOperation", "tag_operation"),
                                           ("send-mail", "send-mail"), ("stop-execution", "stop-execution")])
def test_action_module_named_like_a_misp_builtin_node_is_refused(tmp_path, name, node_id):
    path = write_module(tmp_path, "action_mod", name)
    result = run_server_command(["-t", *LOOPBACK, "-c", str(tmp_path)])
    assert result.returncode != 0
    assert f"action module {name!r} ({path}) would be MISP workflow node {node_id!r}" in result.stderr


def test_runner_only_module_may_use_a_builtin_id(tmp_path):
    write_module(tmp_path, "action_mod", "webhook", module_type="workflow")
    result = run_server_command(["-t", *LOOPBACK, "-c", str(tmp_path)])
    assert result.returncode == 0, result.stderr


def test_missing_custom_dir_is_a_clear_error(tmp_path):
    result = run_server_command(["-t", *LOOPBACK, "-c", str(tmp_path / "nope")])
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_sigterm_lets_in_flight_queries_finish_and_exits_0(make_server):
    server = make_server(custom_dir=SERVER_MODULES)
    pending = Background(server, [{"module": "slow", "hold": 1, "id": "last"}])
    server.wait_for_log(r"slow started last")
    server.terminate()
    assert pending.join()[0] == (200, {"data": True, "id": "last"})
    assert server.wait() == 0
    assert "MISP modules server stopped" in server.logs()
    with pytest.raises(OSError):
        server.get("/healthcheck", timeout=2)


def test_workers_share_one_port_and_stop_gracefully(make_server):
    server = make_server(custom_dir=SERVER_MODULES, extra_args=["--workers", "2"])
    server.wait_for_log(r"Serving with 2 worker processes")
    children = psutil.Process(server.proc.pid).children()
    assert len(children) == 2
    pids = set()
    for i in range(30):
        status, answer = server.query({"module": "async_slow", "hold": 0, "id": i})
        assert status == 200
        pids.add(answer["pid"])
    assert pids <= {c.pid for c in children}
    pending = Background(server, [{"module": "slow", "hold": 1, "id": "w"}])
    server.wait_for_log(r"slow started w")
    server.terminate()
    assert pending.join()[0] == (200, {"data": True, "id": "w"})
    assert server.wait() == 0
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)


def test_harness_reports_a_server_that_cannot_start(tmp_path):
    write_module(tmp_path, "action_mod", "webhook")
    with pytest.raises(ServerFailed, match="would be MISP workflow node 'webhook'"):
        ModuleServer(custom_dir=str(tmp_path))


def test_a_crashed_worker_is_replaced(make_server):
    server = make_server(extra_args=["--workers", "2"])
    server.wait_for_log(r"Serving with 2 worker processes")
    victim = psutil.Process(server.proc.pid).children()[0]
    victim.kill()
    server.wait_for_log(rf"Worker process {victim.pid} exited unexpectedly \(code -9\); starting a new one")
    for _ in range(10):
        assert server.get("/healthcheck") == (200, {"status": True})
    children = psutil.Process(server.proc.pid).children()
    assert len(children) == 2 and victim.pid not in {c.pid for c in children}
    server.terminate()
    assert server.wait() == 0


def test_workers_die_with_their_parent_and_free_the_port(make_server):
    """SIGKILL cannot be passed on: the workers notice the parent is gone and stop (issue #13:
    they kept serving, and the next start failed with "address already in use"). With
    process-isolated modules, their fork servers and module workers go too."""
    server = make_server(custom_dir=SERVER_MODULES, extra_args=["--workers", "2"])
    server.wait_for_log(r"Serving with 2 worker processes")
    assert server.query({"module": "echo", "return": 1}) == (200, 1)  # forks a module worker process
    family = psutil.Process(server.proc.pid).children(recursive=True)
    assert len(family) >= 4  # 2 server workers, their fork servers, a module worker
    server.proc.kill()
    server.proc.wait(10)
    gone, alive = psutil.wait_procs(family, timeout=20)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    with socket.socket() as again:  # the port is free for the next start (which sets SO_REUSEADDR too)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", server.port))
