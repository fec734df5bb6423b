"""A rerank HTTP service speaking the Cohere / Jina ``/v1/rerank`` API (extra ``serve``)."""

from listrank.server.app import create_app
from listrank.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
