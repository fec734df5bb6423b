"""A rerank HTTP service speaking the Cohere / Jina ``/v1/rerank`` API (extra ``serve``).

``create_app`` is imported on first use, so the CLI can read the settings' defaults without
the web stack installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from listrank.server.settings import ServerSettings

if TYPE_CHECKING:
    from listrank.server.app import create_app

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from listrank.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
