"""`listrank mcp`: the pipelines as MCP tools (`rerank`, `plan`) for agents, over stdio or
streamable HTTP."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from listrank.cli.common import add_component_options, check_runnable, pipeline_config
from listrank.cli.serve import (
    add_connection_options,
    add_service_options,
    connection_limits,
    service_settings,
)
from listrank.errors import ConfigError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.schema import check

EMBEDDED = "the embedded SmolLM2-135M-Instruct"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "mcp",
        help="serve pipelines as MCP tools for agents (rerank, plan), over stdio or HTTP",
        description="An MCP server with the tools `rerank` (query, documents, top_n, "
        "pipeline: the Cohere rerank response as JSON text) and `plan` (model calls and "
        "tokens a rerank would cost). The pipeline is built once from --config/--preset and "
        "the flags, as `serve` builds it, with the same limits, queue and workers; "
        "--pipeline adds more that a call picks by name. Needs the `mcp` extra.",
    )
    add_component_options(p)
    p.add_argument(
        "--name",
        help="the tools' name for the pipeline of --config/--preset/the flags (default: the "
        "config file's stem, the preset's name, or 'default')",
    )
    p.add_argument(
        "--pipeline",
        action="append",
        default=[],
        metavar="NAME=CONFIG",
        help="one more pipeline, from a TOML file or preset:NAME (as written; the component "
        "flags apply to the first pipeline only); repeatable",
    )
    p.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (the client starts this command) or streamable HTTP (default %(default)s)",
    )
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default %(default)s)")
    p.add_argument("--path", default="/mcp", help="HTTP endpoint path (default %(default)s)")
    add_service_options(p)
    add_connection_options(p)
    p.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"))
    p.set_defaults(run=run)


def summary(cfg: PipelineConfig) -> str:
    """One line an agent can choose a pipeline by."""
    model = cfg.model or (EMBEDDED if cfg.backend.name == "hf" else "default model")
    return (
        f"method {cfg.method.name}, strategy {cfg.strategy.name}, {cfg.backend.name} backend, "
        f"model {model}"
    )


def _main_name(args: argparse.Namespace) -> str:
    if args.name:
        return str(args.name)
    if args.preset:
        return str(args.preset)
    if args.config:
        return Path(args.config).stem
    return "default"


def _extra(item: str) -> tuple[str, PipelineConfig]:
    name, sep, source = item.partition("=")
    if not sep or not name.strip() or not source.strip():
        raise ConfigError(f"--pipeline {item!r}: expected NAME=CONFIG (a TOML file or preset:NAME)")
    cfg = (
        PipelineConfig.from_preset(source.removeprefix("preset:"))
        if source.startswith("preset:")
        else PipelineConfig.from_file(source)
    )
    return name.strip(), check_runnable(cfg)


def run(args: argparse.Namespace) -> int:
    try:
        from listrank.server.mcp_server import Pipeline, create_mcp_server, http_app
    except ImportError as exc:
        raise ConfigError(
            f"`listrank mcp` needs the mcp extra: pip install 'listrank[mcp]' ({exc})"
        ) from exc

    settings = service_settings(args)
    limits = connection_limits(args)
    # every config is read and checked before any model loads
    configs = [(_main_name(args), pipeline_config(args)), *map(_extra, args.pipeline)]
    names = [n for n, _ in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"pipeline names must differ: {names} (name the first with --name)")
    for _, cfg in configs:
        check(cfg)
    pipelines = []
    for name, cfg in configs:
        reranker = cfg.build()  # once; every call shares it
        workers = args.workers or reranker.default_max_in_flight()
        pipelines.append(Pipeline(name, reranker, summary(cfg), workers=workers))
    level = args.log_level.upper()
    # logs go to stderr: on stdio, stdout carries only the protocol
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = create_mcp_server(pipelines, settings)
    log = logging.getLogger("listrank.server")
    if args.transport == "stdio":
        log.info("MCP on stdio: %s", ", ".join(names))
        server.run("stdio")
        return 0
    import uvicorn

    from listrank.server.connections import guarded_protocol

    log.warning(
        "MCP on http://%s:%d%s (auth %s): %s",
        args.host,
        args.port,
        args.path,
        "on" if settings.api_key else "off",
        ", ".join(names),
    )
    uvicorn.run(
        http_app(server, settings, host=args.host, path=args.path),
        host=args.host,
        port=args.port,
        http=guarded_protocol(limits),
        timeout_keep_alive=limits.keep_alive_s,
        log_level=args.log_level,
        access_log=False,
    )
    return 0
