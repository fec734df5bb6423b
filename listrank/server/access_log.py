"""Structured access log: one JSON object per request on the ``listrank.server.access``
logger. Fields are chosen by the app; neither headers nor bodies are logged, so keys and
documents never reach the log."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

ACCESS_LOGGER = "listrank.server.access"
access_logger = logging.getLogger(ACCESS_LOGGER)


class JsonLineFormatter(logging.Formatter):
    """``{"ts", "level", "logger", ...fields}``; fields come from ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_access(fields: dict[str, Any]) -> None:
    access_logger.info("access", extra={"fields": fields})


def configure(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send the service's loggers to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("listrank.server")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler
