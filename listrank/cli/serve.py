"""`listrank serve --config PIPELINE.toml`: the Cohere/Jina-compatible rerank service."""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from listrank.cli.common import add_component_options, pipeline_config
from listrank.errors import ConfigError
from listrank.server.connections import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MAX_CONNECTIONS,
    ConnectionLimits,
    guarded_protocol,
)
from listrank.server.settings import (
    DEFAULT_MAX_DOCUMENTS,
    DEFAULT_MAX_QUERY_CHARS,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_WORKERS,
    ServerSettings,
)

API_KEY_ENV = "LISTRANK_API_KEY"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="serve a pipeline over HTTP (Cohere/Jina /v1/rerank API)",
        description="Serve POST /v1/rerank (Cohere v1/v2 and Jina request and response "
        "format) and GET /health. The pipeline is built once from --config, as `rerank` "
        "builds it. Needs the `serve` extra.",
    )
    add_component_options(p)  # --config and the same flags as `rerank`
    p.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    add_service_options(p)
    p.add_argument("--model-name", default="listrank", help="name reported in responses")
    add_connection_options(p)
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(run=run)


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """Deadlines and a cap on open connections for an HTTP face."""
    g = p.add_argument_group("connections")
    g.add_argument(
        "--header-timeout",
        type=float,
        default=DEFAULT_HEADER_TIMEOUT_S,
        help="seconds a client has to send its request head; also the idle limit of a new "
        "connection (default %(default)s)",
    )
    g.add_argument(
        "--body-timeout",
        type=float,
        default=DEFAULT_BODY_TIMEOUT_S,
        help="seconds a client has to send its body (default %(default)s)",
    )
    g.add_argument(
        "--keep-alive",
        type=int,
        default=DEFAULT_KEEP_ALIVE_S,
        help="seconds an idle connection stays open between requests (default %(default)s)",
    )
    g.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help="open connections at most; more get 503 and are closed (default %(default)s)",
    )


def connection_limits(args: argparse.Namespace) -> ConnectionLimits:
    return ConnectionLimits(
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        keep_alive_s=args.keep_alive,
        max_connections=args.max_connections,
    )


def add_service_options(p: argparse.ArgumentParser) -> None:
    """Auth, limits and workers: the same for `serve` and `mcp`."""
    p.add_argument(
        "--api-key",
        help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}; unset = no auth)",
    )
    p.add_argument("--max-documents", type=int, default=DEFAULT_MAX_DOCUMENTS)
    p.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES)
    p.add_argument("--max-query-chars", type=int, default=DEFAULT_MAX_QUERY_CHARS)
    p.add_argument(
        "--queue-size",
        type=int,
        default=DEFAULT_QUEUE_SIZE,
        help="requests that may wait; more get 503 + Retry-After (default %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="requests in flight at once; their calls at the same stage share backend calls "
        "(default: twice an API backend's concurrency, 64 for vllm, the batch size for hf "
        "on a GPU, 1 on a CPU)",
    )


def service_settings(args: argparse.Namespace, **more: Any) -> ServerSettings:
    """The settings the flags of ``add_service_options`` give (workers: 1 until the reranker
    is built and says what suits its backend)."""
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    return ServerSettings(
        max_documents=args.max_documents,
        max_request_bytes=args.max_request_bytes,
        max_query_chars=args.max_query_chars,
        queue_size=args.queue_size,
        workers=args.workers or DEFAULT_WORKERS,
        api_key=api_key or None,
        **more,
    )


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:  # checked before the model loads, not by bind()
        raise ConfigError(f"--port {args.port}: a TCP port is 0..65535 (0: any free port)")
    try:
        import uvicorn

        from listrank.server import create_app
        from listrank.server.access_log import configure
    except ImportError as exc:
        raise ConfigError(
            f"`listrank serve` needs the serve extra: pip install 'listrank[serve]' ({exc})"
        ) from exc
    import logging

    settings = service_settings(args, model_name=args.model_name)
    limits = connection_limits(args)
    cfg = pipeline_config(args)
    reranker = cfg.build()  # once; every request shares it
    if args.workers is None:
        settings = dataclasses.replace(settings, workers=reranker.default_max_in_flight())
    configure(level=getattr(logging, args.log_level.upper()))
    logging.getLogger("listrank.server").info(
        "serving %s on http://%s:%d (auth %s)",
        cfg.source,
        args.host,
        args.port,
        "on" if settings.api_key else "off",
    )
    uvicorn.run(
        create_app(reranker, settings),
        host=args.host,
        port=args.port,
        access_log=False,  # ours is structured and carries the request id
        http=guarded_protocol(limits),  # uvicorn's h11 protocol plus head/body deadlines
        timeout_keep_alive=limits.keep_alive_s,
        log_level=args.log_level,
    )
    return 0
