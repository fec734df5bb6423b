"""The command-line reference (docs/cli-reference.md), generated from the argparse parser itself,
so every command, subcommand and flag the page lists is one `listrank` accepts, with its real
default and choices. `python -m listrank.cli.reference > docs/cli-reference.md` regenerates it;
a test fails when the committed page and the parser disagree.

The usage lines are built here rather than by argparse's formatter, whose wrapping follows the
terminal's width and whose layout differs between Python versions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

HEADER = """\
# Command reference

<!-- generated from listrank's argparse parser: python -m listrank.cli.reference -->

Every `listrank` command and flag, generated from the parser (`listrank COMMAND --help` prints
the same). The [command line](cli.md) page explains inputs, outputs, pipes and traces; the
[configuration](configuration.md) page lists every component option that `-O KEY=VALUE` and the
pipeline TOML take.
"""

# the flag group shared by every command that builds a pipeline: listed once, at the end
SHARED_GROUP = "pipeline"


def markdown(parser: argparse.ArgumentParser) -> str:
    """The whole reference page for ``parser`` (``listrank.cli.build_parser()``)."""
    summaries = _summaries(parser)
    shared = _shared_group(parser)
    sections = [HEADER, _section(parser, None, level=2, shared=None)]
    for sub in subcommands(parser):
        level = 2 + sub.prog.count(" ") - 1
        sections.append(_section(sub, summaries.get(sub.prog), level=level, shared=shared))
    if shared is not None:
        sections.append(
            f"## Pipeline flags\n\nThe `{SHARED_GROUP}` flags of every command that builds a "
            "pipeline (`ab` takes all but `--config` and `--preset`, since it names its "
            "pipelines as arguments, and applies them to each). They override the pipeline "
            "file and the preset.\n\n" + _table(shared)
        )
    return "\n".join(s.rstrip() + "\n" for s in sections)


def subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every subcommand's parser, depth first, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # an alias maps to the same parser
                yield sub
                yield from subcommands(sub)


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's one-line help, as its parent gave it, by the subcommand's prog."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.help:
                    found[f"{parser.prog} {choice.dest}"] = str(choice.help)
            for sub in action.choices.values():
                found.update(_summaries(sub))
    return found


def _shared_group(parser: argparse.ArgumentParser) -> list[argparse.Action] | None:
    """The largest ``pipeline`` group of any command: the one listed once for all."""
    groups = [
        [a for a in g._group_actions if a.help != argparse.SUPPRESS]
        for sub in subcommands(parser)
        for g in sub._action_groups
        if g.title == SHARED_GROUP
    ]
    return max(groups, key=len) if groups else None


def _section(
    parser: argparse.ArgumentParser,
    summary: str | None,
    *,
    level: int,
    shared: list[argparse.Action] | None,
) -> str:
    lines = [f"{'#' * level} {parser.prog}", ""]
    if summary:
        lines += [_sentence(summary), ""]
    lines += ["```text", _usage(parser, shared), "```", ""]
    if parser.description:
        lines += [parser.description.replace("%(prog)s", parser.prog), ""]
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in commands:
        lines += ["| command | what |", "|---|---|"]
        for choice in action._choices_actions:
            anchor = f"{parser.prog} {choice.dest}".replace(" ", "-")
            lines.append(f"| [`{choice.dest}`](#{anchor}) | {_cell(choice.help or '')} |")
        lines.append("")
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)
        ]
        if not actions:
            continue
        if group.title == SHARED_GROUP and shared is not None:
            lines.append(_shared_note(actions, shared))
            lines.append("")
            continue
        title = "arguments" if group.title == "positional arguments" else group.title
        lines += [f"**{title}**", "", _table(actions), ""]
    return "\n".join(lines)


def _shared_note(actions: list[argparse.Action], shared: list[argparse.Action]) -> str:
    names = {a.option_strings[0] for a in actions}
    missing = [a.option_strings[0] for a in shared if a.option_strings[0] not in names]
    extra = [a for a in actions if a.option_strings[0] not in {s.option_strings[0] for s in shared}]
    note = "**pipeline**: the [pipeline flags](#pipeline-flags)"
    if missing:
        note += " except " + ", ".join(f"`{m}`" for m in missing)
    if extra:
        note += ", and\n\n" + _table(extra)
    return note


def _table(actions: list[argparse.Action]) -> str:
    rows = ["| flag | value | default | what |", "|---|---|---|---|"]
    for action in actions:
        if action.option_strings:
            flag = ", ".join(f"`{s}`" for s in action.option_strings)
            value = _value(action)
        else:  # a positional: its name is the flag column; how many it takes, the value's
            flag = f"`{_metavar(action)}`"
            value = _COUNTS.get(str(action.nargs), "")
        rows.append(
            f"| {flag} | {f'`{value}`' if value and action.option_strings else value} | "
            f"{_default(action)} | "
            f"{_cell(_help(action))} |"
        )
    return "\n".join(rows)


_COUNTS = {"?": "optional", "*": "any number", "+": "one or more"}


def _help(action: argparse.Action) -> str:
    text = _expand(action.help or "", action)
    if action.choices is not None and action.metavar is not None:  # choices not in the value
        text += ("; " if text else "") + "one of " + ", ".join(f"`{c}`" for c in action.choices)
    if action.required and action.option_strings:
        text += " (required)"
    return text


def _expand(text: str, action: argparse.Action) -> str:
    """A flag's help with ``%(default)s`` … filled in, as argparse fills them."""
    if "%" not in text:
        return text
    params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    for key in ("choices",):
        if params.get(key) is not None:
            params[key] = ", ".join(map(str, params[key]))
    return text % params


def _default(action: argparse.Action) -> str:
    default = action.default
    if action.option_strings and action.nargs == 0:  # a switch: off unless given
        return ""
    if default is None or default is argparse.SUPPRESS or default == []:
        return ""
    if isinstance(default, list | tuple):
        return "`" + " ".join(map(str, default)) + "`"
    return f"`{default}`"


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, str):
        return action.metavar
    if action.option_strings:
        return action.dest.upper()
    return action.dest


def _value(action: argparse.Action) -> str:
    """What a flag takes (``N``, ``FILE [FILE ...]``); empty for a switch."""
    if action.option_strings and action.nargs == 0:
        return ""
    if action.choices is not None and action.metavar is None:
        word = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        word = _metavar(action)
    return {
        "?": f"[{word}]",
        "*": f"[{word} ...]",
        "+": f"{word} [{word} ...]",
    }.get(str(action.nargs), word)


def _usage(parser: argparse.ArgumentParser, shared: list[argparse.Action] | None) -> str:
    """The synopsis; the shared pipeline flags stand as one ``[pipeline flags]``."""
    words = [parser.prog]
    collapsed = {
        id(a)
        for g in parser._action_groups
        if g.title == SHARED_GROUP and shared
        for a in g._group_actions
    }
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        if id(action) in collapsed:
            if "[pipeline flags]" not in words:
                words.append("[pipeline flags]")
            continue
        if isinstance(action, argparse._SubParsersAction):
            words.append("{" + ",".join(c.dest for c in action._choices_actions) + "} ...")
            continue
        if not action.option_strings:
            words.append(_value(action))
            continue
        word = f"{action.option_strings[0]} {_value(action)}".strip()
        words.append(word if action.required else f"[{word}]")
    return _wrap(words, width=96, indent=" " * (len(parser.prog) + 1))


def _wrap(words: list[str], *, width: int, indent: str) -> str:
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = indent + word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith((".", ")")) else ".")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def reference() -> str:
    """The reference for the `listrank` command as it is installed now."""
    from listrank.cli import build_parser

    return markdown(build_parser())


def main() -> int:
    sys.stdout.write(reference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
