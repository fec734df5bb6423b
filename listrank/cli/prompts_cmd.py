"""`listrank prompts list | show NAME | render (NAME | --preset NAME) --input FILE`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from listrank.errors import ConfigError
from listrank.prompting.budget import passage_text, truncate_words
from listrank.prompting.presets import load_preset
from listrank.prompting.templates import load_template, template_names
from listrank.runs.io import read_requests


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("prompts", help="list, show and render templates")
    ps = p.add_subparsers(dest="prompts_command", required=True)
    ps.add_parser("list", help="template names and descriptions").set_defaults(run=run_list)
    show = ps.add_parser("show", help="print a template file")
    show.add_argument("name")
    show.set_defaults(run=run_show)
    render = ps.add_parser("render", help="show exactly what the model sees for one query")
    render.add_argument("name", nargs="?", help="template name or file")
    render.add_argument(
        "--preset", help="render the preset's template with its text handling instead"
    )
    render.add_argument("--input", required=True, help="a request file (JSONL or rank_llm JSON)")
    render.add_argument("--qid", help="which query (default: the first)")
    render.add_argument(
        "--window", type=int, help="passages shown (default: the preset's window, else 20)"
    )
    render.add_argument("--max-passage-words", type=int, default=300)
    render.add_argument(
        "--chat",
        action="store_true",
        help="apply the embedded model's chat template (exact model input)",
    )
    render.set_defaults(run=run_render)


def run_list(args: argparse.Namespace) -> int:
    for name in template_names():
        t = load_template(name)
        print(f"{name:20s} [{', '.join(t.methods)}] {t.description}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    t = load_template(args.name)
    with open(t.source, encoding="utf-8") as fh:
        sys.stdout.write(fh.read())
    return 0


def run_render(args: argparse.Namespace) -> int:
    if (args.name is None) == (args.preset is None):
        raise ConfigError("prompts render: give a template NAME or --preset NAME (one of them)")
    if args.preset is not None:
        preset = load_preset(args.preset)
        thinking = str(preset.method.get("thinking", "default"))
        t = load_template(preset.template or "rankgpt")
        if args.window is None:
            args.window = int(preset.strategy.get("window", 20))
    else:
        thinking = "default"
        t = load_template(args.name)
    if args.window is None:
        args.window = 20
    requests = read_requests(args.input)
    req = (
        next((r for r in requests if r.query.qid == args.qid), requests[0])
        if args.qid
        else requests[0]
    )
    texts = [
        truncate_words(passage_text(c, t.titled), args.max_passage_words)
        for c in req.candidates[: args.window]
    ]
    shown = req.candidates[: args.window]
    rendered = t.render(req.query.text, texts, [c.score for c in shown])
    if args.chat:
        from listrank.backends.hf import HFBackend

        backend = HFBackend(device="cpu")
        # a thinking preset renders with enable_thinking, as its runs do
        think = {"on": True, "off": False}.get(thinking)
        text = backend.prompt_text(rendered.messages, rendered.assistant_prefix, thinking=think)
        sys.stdout.write(text + "\n")
        return 0
    for m in rendered.messages:
        print(f"--- {m['role']} ---\n{m['content']}")
    if rendered.assistant_prefix:
        print(f"--- assistant (answer prefix) ---\n{rendered.assistant_prefix}")
    return 0
