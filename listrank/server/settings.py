"""Service limits and options, one frozen object shared by the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from listrank.errors import ConfigError

DEFAULT_MAX_DOCUMENTS = 1000
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_QUERY_CHARS = 4096
DEFAULT_QUEUE_SIZE = 64
DEFAULT_WORKERS = 1


@dataclass(frozen=True)
class ServerSettings:
    max_documents: int = DEFAULT_MAX_DOCUMENTS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_query_chars: int = DEFAULT_MAX_QUERY_CHARS
    queue_size: int = DEFAULT_QUEUE_SIZE
    """Requests that may wait for the model; one more gets 503 + Retry-After."""
    workers: int = DEFAULT_WORKERS
    """Requests run at once. Their model calls at the same stage are merged into one batched
    call for a local model (hf, vLLM); an API backend takes them concurrently."""
    api_key: str | None = None
    model_name: str = "listrank"
    """The name reported in responses and /health."""

    def __post_init__(self) -> None:
        for name in (
            "max_documents",
            "max_request_bytes",
            "max_query_chars",
            "queue_size",
            "workers",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("the API key is empty; leave it unset to disable auth")

    def __repr__(self) -> str:
        # keep the key out of any log line or traceback that prints the settings
        shown = "<set>" if self.api_key else None
        return (
            f"ServerSettings(max_documents={self.max_documents}, "
            f"max_request_bytes={self.max_request_bytes}, "
            f"max_query_chars={self.max_query_chars}, queue_size={self.queue_size}, "
            f"workers={self.workers}, api_key={shown}, model_name={self.model_name!r})"
        )
