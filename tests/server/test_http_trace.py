"""--debug-extended: the modules' outbound HTTP exchanges in the log, as upstream 3.1 logs them, redacted."""

from __future__ import annotations

from tests.support.data import SERVER_MODULES
from tests.support.fakes.base import FakeService, Response

KEY = "k3y-0f-the-qu3ry-7d2c91"


class Echo(FakeService):
    """Answers with the API key it was sent (as a careless service's error page would)."""

    def handle(self, request):
        return Response.json({"seen": request.header("X-Api-Key")}, headers={"X-Request-Token": KEY})


def test_outbound_http_is_logged_per_module_with_secrets_masked(make_server):
    with Echo() as fake:
        server = make_server(custom_dir=SERVER_MODULES, extra_args=["--debug-extended"])
        status, answer = server.query({"module": "fetcher", "url": f"{fake.url}/lookup", "config": {"apikey": KEY}})
        assert status == 200 and KEY in answer["results"][0]["values"][0]  # the module got what it asked for
        request = server.wait_for_log(r"HTTP ([0-9a-f]{32}) module=fetcher request: GET "
                                      rf"http://127\.0\.0\.1:{fake.port}/lookup\?apikey=\*\*\*&q=x")
        label = request.group(1)
        server.wait_for_log(rf"HTTP {label} module=fetcher response: 200 OK")
        server.wait_for_log(rf"HTTP {label} module=fetcher response body chunk: b'\{{\"seen\": \"\*\*\*\"\}}'")
        logs = server.logs()
        assert "Extended HTTP debugging enabled" in logs and "'X-Api-Key': '***'" in logs
        assert KEY not in logs


def test_without_debug_extended_nothing_is_traced(make_server):
    with Echo() as fake:
        server = make_server(custom_dir=SERVER_MODULES, extra_args=["-d"])
        assert server.query({"module": "fetcher", "url": fake.url, "config": {"apikey": KEY}})[0] == 200
        server.wait_for_log(r"200 POST /query .* module=fetcher")
        assert "module=fetcher request:" not in server.logs()
