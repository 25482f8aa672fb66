"""Connection hygiene (issue #13): slow or idle clients are timed out, connections and request
bodies in memory are capped, and running out of file descriptors pauses accepting with one log
line instead of a flood. Every server here binds 127.0.0.1; bounds are generous (MISP's own
timeouts), the properties are "closed", "answered", "refused with 503"."""

from __future__ import annotations

import http.client
import json
import shutil
import socket

from tests.support.data import HOG_MODULES

BOUND = 10.0  # s: generous, far above the 1 s timeouts under test


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=BOUND)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """The server closed the connection (end-of-file or reset) within BOUND."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
            if b"HTTP/1.1 408" in data or b"HTTP/1.1 503" in data:  # answered, then closed
                continue
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def healthcheck(server) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=BOUND)
    try:
        conn.request("GET", "/healthcheck")
        return conn.getresponse().status
    finally:
        conn.close()


def test_slow_and_idle_connections_are_closed(make_server):
    server = make_server(config={"server": {"idle_timeout": 1, "body_timeout": 1}})
    slowloris = [connect(server) for _ in range(50)]
    for sock in slowloris:
        sock.sendall(b"POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
    idle = [connect(server) for _ in range(20)]  # connected, nothing sent
    slow_body = connect(server)
    slow_body.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"module\":")
    assert healthcheck(server) == 200
    assert all(closed_by_server(sock) for sock in slowloris + idle + [slow_body])
    assert healthcheck(server) == 200


def test_at_the_connection_cap_idle_connections_make_room(make_server):
    server = make_server(config={"server": {"max_connections": 20}})
    idle = [connect(server) for _ in range(40)]
    for _ in range(5):
        assert healthcheck(server) == 200  # each takes the place of the longest idle connection
    assert closed_by_server(idle[0])


def test_at_the_connection_cap_with_every_connection_busy_new_ones_get_503(make_server):
    server = make_server(custom_dir=HOG_MODULES, config={"server": {"max_connections": 10, "shutdown_grace": 0.5},
                                                         "modules": {"hog": {"concurrency": 10}}})
    busy = []
    for index in range(10):  # each connection waits for a query of a hung module
        sock = connect(server)
        body = json.dumps({"module": "hog", "mode": "spin", "id": f"c{index}"}).encode()
        sock.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        busy.append(sock)
    server.wait_for_log(r"hog spin started c\d", count=10)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=BOUND)
    conn.request("GET", "/healthcheck")
    response = conn.getresponse()
    assert response.status == 503 and "too many connections" in json.loads(response.read())["error"]
    server.wait_for_log(r"Refusing a connection: all 10 connections")


def test_request_bodies_in_memory_are_capped(make_server):
    server = make_server(config={"server": {"max_bodies_in_memory": 1_000_000, "max_body_size": 900_000}})
    first = connect(server)
    body = json.dumps({"module": "jinja_template_rendering", "text": "{}", "pad": "x" * 800_000}).encode()
    first.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert first.recv(1000).startswith(b"HTTP/1.1 100")  # the server has its headers: its share is taken
    first.sendall(body[:1000])
    status, answer = server.query(body)  # does not fit beside the first, still arriving
    assert status == 503 and "max_bodies_in_memory" in answer["error"]
    first.sendall(body[1000:])
    assert b"HTTP/1.1 200 OK" in first.recv(65536)
    assert server.query(body)[0] == 200  # the first one's share was given back


def test_running_out_of_descriptors_pauses_accepting_with_one_log_line(make_server):
    server = make_server(custom_dir=HOG_MODULES)
    keep = http.client.HTTPConnection("127.0.0.1", server.port, timeout=BOUND)  # keeps working throughout
    keep.request("POST", "/query", json.dumps({"module": "fd_hog", "mode": "grab"}))
    assert json.loads(keep.getresponse().read())["held"] > 0
    waiting = [connect(server) for _ in range(20)]  # in the kernel's backlog: accept() fails with EMFILE
    for sock in waiting:
        sock.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
    server.wait_for_log(r"Cannot accept connections: Too many open files")
    keep.request("POST", "/query", json.dumps({"module": "fd_hog", "mode": "release"}))
    assert json.loads(keep.getresponse().read())["held"] == 0
    for sock in waiting:  # accepted once descriptors are free again, and answered
        assert b"HTTP/1.1 200 OK" in sock.recv(65536)
    logs = server.logs()
    assert logs.count("Cannot accept connections") == 1
    assert "Exception in callback" not in logs and len(logs) < 100_000


def test_idle_connections_cannot_exhaust_a_low_descriptor_limit(make_server):
    assert shutil.which("prlimit"), "prlimit (util-linux) is needed: .ci/run installs it"
    server = make_server(prefix=["prlimit", "--nofile=256:256", "--"])
    idle = [connect(server) for _ in range(300)]
    for _ in range(10):
        assert healthcheck(server) == 200
    logs = server.logs()
    assert "Too many open files" not in logs.replace("Cannot accept connections: Too many open files", "")
    assert len(logs) < 100_000
    for sock in idle:
        sock.close()
