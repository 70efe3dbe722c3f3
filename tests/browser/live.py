"""The app served over HTTP from a thread, and Debian's chromium driven by Playwright.

Shared by the browser tests, `make screenshots` and the page benchmark. Playwright never
downloads a browser here: it drives the chromium found on the PATH.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium")
MISSING = "chromium not found; Debian's chromium package brings it"
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI Language/zh_CN"
)
PHONE: dict[str, Any] = {  # WeChat's browser on an iPhone, in Chinese
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": WECHAT,
    "locale": "zh-CN",
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}


def whole(app: Flask) -> Any:
    """Return `app` answering each request with its body read whole and its file closed.

    Werkzeug's server leaves a response's file open when the browser drops the connection (a
    favicon cut short by the next page): its ResourceWarning, raised when the file is
    collected, failed whichever test was running.
    """

    def answer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return answer


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 from a thread; yield its URL."""
    server = make_server("127.0.0.1", 0, whole(app), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url  # links in mails point here
    # Polled for shutdown every 50 ms, not Werkzeug's 500: each browser test ends sooner.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="live-server", daemon=True
    )
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Launch Debian's chromium, headless; raise when it is not installed."""
    if not CHROMIUM:
        raise RuntimeError(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()
