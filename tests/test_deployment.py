"""The app as a deployment runs it: gunicorn with several workers, limits shared through Redis."""

from __future__ import annotations

import gc
import http.client
import os
import runpy
import secrets
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from gunicorn.config import Config

from adr.gunicorn_log import without_secrets
from tests.conftest import hidden_inputs, valid_report
from tests.smtp import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).parents[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} ended: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture
def redis_uri():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server was not found (Debian's redis-server package brings it)")
    port = free_port()
    server = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, server)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.communicate(timeout=30)  # and close its pipe


@pytest.fixture
def gunicorn(tmp_path, database):
    """Start gunicorn with two workers on this test's database; yield a function that does it."""
    servers = []

    def start(**settings: str) -> int:
        port = free_port()
        env = os.environ | {
            "ADR_INSTANCE_PATH": str(tmp_path),
            "ADR_SQLALCHEMY_DATABASE_URI": database,
            "ADR_SECRET_KEY": "a deployment's long random secret key for the test",
            "ADR_MAIL_BACKGROUND": "false",
            **{f"ADR_{name}": value for name, value in settings.items()},
        }
        subprocess.run([BIN / "adr", "db", "upgrade"], env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [BIN / "gunicorn", "--config", ROOT / "gunicorn.conf.py", "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "adr:create_app()"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        servers.append(server)
        wait_for_port(port, server)
        return port

    yield start
    for server in servers:
        server.terminate()
        server.communicate(timeout=30)


def send_report(port: int) -> int:
    """Open the form and send it as a browser would, on fresh connections; return the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/report")
    form = connection.getresponse()
    cookie = form.getheader("Set-Cookie", "").split(";", 1)[0]
    fields = valid_report() | hidden_inputs(form.read().decode())
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urlencode(fields, doseq=True)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    connection.request("POST", "/report", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_gunicorn_serves_the_form_and_stores_reports_sent_at_once(gunicorn):
    port = gunicorn(RATELIMIT_ENABLED="false")
    with ThreadPoolExecutor(4) as browsers:
        assert list(browsers.map(lambda _: send_report(port), range(4))) == [303] * 4


def test_gunicorn_conf_runs_sync_workers():
    """One request a worker: threads sharing a worker's GIL held the write lock twice as long."""
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in config.settings:
            config.set(name, value)
    assert (config.worker_class_str, config.threads) == ("sync", 1)


def test_a_worker_sets_what_it_loaded_apart_from_the_garbage_collector():
    """Each full collection scanned the app's objects again: 150 ms a pause."""
    post_worker_init = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"]
    try:
        post_worker_init(None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_script_name_header_neither_breaks_nor_moves_the_form(gunicorn):
    """gunicorn.conf.py: no request says where the app is mounted (it answered 500 when wrong)."""
    port = gunicorn(RATELIMIT_ENABLED="false")
    for script_name in ("/elsewhere", "/report", "/p1"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/report", headers={"SCRIPT_NAME": script_name})
        response = connection.getresponse()
        page = response.read().decode()
        connection.close()
        assert response.status == 200
        assert 'action="/report"' in page and 'href="/static/site.css?v=' in page


def test_two_workers_share_one_rate_limit_through_redis(gunicorn, redis_uri):
    port = gunicorn(
        RATELIMIT_ENABLED="true", RATELIMIT_STORAGE_URI=redis_uri, REPORT_RATE_LIMIT="3 per minute"
    )
    statuses = [send_report(port) for _ in range(8)]
    assert statuses == [303] * 3 + [429] * 5


def test_a_worker_timeout_logs_neither_a_follow_up_token_nor_a_search(tmp_path):
    """gunicorn quotes the URI of a request its worker was killed in: gunicorn.conf.py cuts it.

    A sync worker, the file's, is killed when a request outlasts --timeout.
    """
    (tmp_path / "hanging.py").write_text(
        "import time\n\ndef app(environ, start_response):\n    time.sleep(60)\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [BIN / "gunicorn", "--config", ROOT / "gunicorn.conf.py", "--workers", "1",
         "--timeout", "1", "--bind", f"127.0.0.1:{port}", "hanging:app"],
        cwd=tmp_path, env=os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    token = secrets.token_urlsafe(32)
    try:
        wait_for_port(port, server)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", f"/report/follow-up/{token}?q=13912345678")
        status = connection.getresponse().status
        connection.close()
    finally:
        server.terminate()
        _output, log = server.communicate(timeout=30)
    assert status == 500
    assert "WORKER TIMEOUT" in log
    assert "Error handling request GET /report/follow-up/<token>?<query>" in log
    assert token not in log and "13912345678" not in log


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ("Error handling request GET /report/follow-up/" + "a1_-" * 10 + "xyz",
         "Error handling request GET /report/follow-up/<token>"),
        ("Error handling request POST /report/follow-up/abc?lang=en",
         "Error handling request POST /report/follow-up/<token>?<query>"),
        ("Error handling request GET /staff/reports?q=%E7%8E%8B%E4%B8%BD&serious=1",
         "Error handling request GET /staff/reports?<query>"),
        ("Booting worker with pid: 4242", "Booting worker with pid: 4242"),
    ],
)  # fmt: skip
def test_the_error_log_keeps_tokens_and_searches_out(line, logged):
    assert without_secrets(line) == logged
