"""gunicorn's error log without secrets in request URIs.

When a worker times out, or a request fails outside the app, gunicorn logs "Error handling
request GET <uri>": the URI of a follow-up link holds its token, and a staff search's query
string holds what was searched for (names, phone numbers). `Logger` cuts both from every line
of the error log; `gunicorn.conf.py` names it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

TOKEN_IN_PATH = re.compile(r"(/report/follow-up/)[^\s?#/\"']+")
QUERY = re.compile(r"(/[^\s?#\"']*)\?[^\s#\"']*")


def without_secrets(text: str) -> str:
    """Return a log line with follow-up tokens and query strings replaced by placeholders."""
    return QUERY.sub(r"\1?<query>", TOKEN_IN_PATH.sub(r"\1<token>", text))


class SecretsFilter(logging.Filter):
    """Rewrite each record of the log it is added to, its traceback too, without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = without_secrets(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = without_secrets(record.exc_text)
        return True


class Logger(GunicornLogger):
    """gunicorn's logger, its error log filtered by `SecretsFilter`."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not any(isinstance(kept, SecretsFilter) for kept in self.error_log.filters):
            self.error_log.addFilter(SecretsFilter())
