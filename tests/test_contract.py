"""The served form carries every name of the shared spec (../shared/tools/check-contract.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHECKER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check-contract.py"


@pytest.mark.skipif(not CHECKER.exists(), reason=f"the shared contract checker is not at {CHECKER}")
def test_the_served_form_has_every_field_of_the_spec(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [sys.executable, str(CHECKER), "form", f"http://127.0.0.1:{server.server_port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "68 of 68 spec fields present" in result.stdout
