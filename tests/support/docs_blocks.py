"""Every fenced code block of the README and the docs pages, and a runner that runs them as a
reader would, page by page in order, in a fresh folder: shell commands (``listrank`` in
process, servers as real processes on a loopback port, anything else through bash), Python
blocks executed, TOML parsed and checked with ``listrank config check``, JSON parsed, console
examples' output compared.

A block that cannot run here says so right before it: ``<!-- docs-test: skip (why) -->``. The
walk-through block (``<!-- walkthrough -->``) is run by tests/unit/test_walkthrough.py.

Shared by tests/unit/test_docs_code.py (the tiny model) and tests/support/docs_walk.py (the
embedded model, timed by hand)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_MARK = re.compile(r"<!-- docs-test: skip \((?P<why>[^)]+)\) -->\s*$")
_WALKTHROUGH = "<!-- walkthrough -->"

SHELL = {"", "sh", "bash", "shell", "console"}
KNOWN = SHELL | {"python", "toml", "json", "jsonl", "text"}
GENERATED = {"docs/cli-reference.md"}
"""Pages generated from the code, with their own test (tests/unit/test_cli_reference.py)."""

_PIPELINE_TABLES = {"backend", "method", "strategy", "prefilter", "cache", "fusion", "reranker"}
_SERVERS = {"serve", "mcp"}
_PORT = "8000"  # the port the docs' server examples use; each page gets a free one instead


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str
    skip: str | None = None
    """Why the block cannot run here, as the page's marker says."""
    walkthrough: bool = False

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[str]:
    """The README, then the site's pages in navigation order."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return ["README.md", *(f"docs/{p}" for entry in config["nav"] for p in entry.values())]


def blocks(page: str) -> list[Block]:
    text = (ROOT / page).read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        found.append(
            Block(
                page=page,
                line=text[: m.start()].count("\n") + 1,
                lang=m.group(1).lower(),
                text=m.group(2),
                skip=mark.group("why") if mark else None,
                walkthrough=before.strip() == _WALKTHROUGH,
            )
        )
    return found


def all_blocks() -> list[Block]:
    return [b for page in pages() for b in blocks(page)]


# -- shell text ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    line: str
    """As written (continuations joined)."""
    expected: str | None = None
    """A console block's output lines after the command, when it shows any."""


def commands(block: Block) -> list[Command]:
    """A shell block's commands; in a console block, ``$ `` lines and the output below each."""
    joined = re.sub(r"\\\n\s*", " ", block.text)
    if block.lang != "console":
        return [Command(x) for x in joined.splitlines() if _words(x)]
    found: list[Command] = []
    output: list[str] = []
    for line in joined.splitlines():
        if line.startswith("$ "):
            if found:
                found[-1] = Command(found[-1].line, "\n".join(output) or None)
            found.append(Command(line[2:]))
            output = []
        elif found:
            output.append(line)
    if found:
        found[-1] = Command(found[-1].line, "\n".join(output).rstrip() or None)
    return found


def _words(line: str) -> list[str]:
    return shlex.split(line, comments=True)


def listrank_argvs(block: Block) -> list[list[str]]:
    """The arguments of every ``listrank`` command in a shell block (redirections removed)."""
    found = []
    for command in commands(block) if block.lang in SHELL else []:
        words = _words(command.line)
        if words and words[0] == "listrank":
            found.append(_split_redirections(words[1:])[0])
    return found


def inline_argvs(page: str) -> list[list[str]]:
    """The arguments of every `listrank ...` inline code span in a page's prose, up to the
    first ellipsis, pipe or redirection (the rest of such a span is a sketch)."""
    text = FENCE.sub("", (ROOT / page).read_text(encoding="utf-8")).replace("\n", " ")
    found = []
    for m in re.finditer(r"`listrank ([^`]+)`", text):
        words = shlex.split(m.group(1))
        cut = [i for i, w in enumerate(words) if w in ("|", ">", "<", "&&") or "…" in w]
        found.append(words[: cut[0]] if cut else words)
    return found


def _plain(line: str) -> bool:
    """Whether a command needs no shell: no pipes, lists, substitutions or variables, and no
    ``-`` for stdin/stdout (read and written through the process's own descriptors)."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    tokens = list(lex)
    shell = {"|", "||", "&", "&&", ";", "(", ")", "-"}
    return not (set(tokens) & shell or any("$" in t or "`" in t for t in tokens))


def _split_redirections(words: list[str]) -> tuple[list[str], dict[str, str]]:
    argv: list[str] = []
    redirect: dict[str, str] = {}
    it = iter(words)
    for word in it:
        if word in (">", ">>", "<"):
            redirect[word] = next(it)
        else:
            argv.append(word)
    return argv, redirect


# -- running ---------------------------------------------------------------------------------


class Unrunnable(AssertionError):
    """A block holds something no test can run; mark it (``<!-- docs-test: skip (why) -->``)."""


@dataclass
class Ran:
    block: Block
    seconds: float
    outputs: list[str] = field(default_factory=list)
    """What each command or Python block printed (stdout), in order."""
    scope: dict[str, Any] = field(default_factory=dict)
    """The page's Python names after a Python block ran."""


class PageRunner:
    """Runs one page's blocks in order in ``folder``: later blocks see what earlier ones wrote
    and talk to the servers they started (stopped by :meth:`close`). ``env`` is what the
    commands see (the model and dataset caches); in-process commands read ``os.environ``,
    which the caller prepares the same way."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = {**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"}
        self.port = str(_free_port())
        self.servers: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []
        self.mcp_sessions: list[dict[str, Any]] = []
        """What each stdio MCP server answered to initialize (its name, tools' instructions)."""
        self._patch = pytest.MonkeyPatch()
        self.scope: dict[str, Any] = {"__name__": "__docs__"}
        """The Python blocks' names: one interpreter per page, as a reader runs them."""

    def close(self) -> None:
        for server in self.servers.values():
            _stop(server)
        self.servers.clear()
        self._patch.undo()

    def __enter__(self) -> PageRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, block: Block) -> Ran:
        start = time.perf_counter()
        ran = Ran(block, 0.0)
        old = Path.cwd()
        os.chdir(self.folder)
        try:
            text = block.text.replace(_PORT, self.port)
            if block.lang in SHELL:
                local = Block(block.page, block.line, block.lang, text, block.skip)
                for command in commands(local):
                    if block.walkthrough and command.line.split("#")[0].strip() == "make demo":
                        continue  # the environment these blocks already run in
                    ran.outputs.append(self._shell(command, block))
            elif block.lang == "python":
                ran.outputs.append(self._python(text, block))
                ran.scope = self.scope
            elif block.lang == "toml":
                self._toml(text, block)
            elif block.lang == "json":
                json.loads(text)
            elif block.lang == "jsonl":
                [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                raise Unrunnable(f"{block.where}: no runner for a ```{block.lang} block")
        finally:
            os.chdir(old)
        ran.seconds = time.perf_counter() - start
        return ran

    # -- shell ---------------------------------------------------------------------------

    def _shell(self, command: Command, block: Block) -> str:
        words = _words(command.line)
        if words[0] in (".", "source") and words[1].endswith("activate"):
            return ""  # activating the venv these commands already run in
        if words[0] == "export":
            for assignment in words[1:]:
                key, _, value = assignment.partition("=")
                self.env[key] = value
                self._patch.setenv(key, value)
            return ""
        if words[0] == "make":
            raise Unrunnable(f"{block.where}: `{command.line}` is a make target")
        if words[0] == "listrank" and len(words) > 1 and words[1] in _SERVERS:
            self._server(words[1:], block)
            return ""
        if words[0] == "listrank" and _plain(command.line):
            out = self._listrank(words[1:], block)
        else:
            out = self._bash(command.line, block)
        if command.expected is not None:
            assert _shows(out, command.expected), (
                f"{block.where}: `{command.line}` printed\n{out}\ninstead of\n{command.expected}"
            )
        return out

    def _listrank(self, words: list[str], block: Block) -> str:
        from listrank.cli import main

        argv, redirect = _split_redirections(words)
        out = io.StringIO()
        stdin = open(redirect["<"], encoding="utf-8") if "<" in redirect else sys.stdin  # noqa: SIM115
        try:
            with contextlib.redirect_stdout(out), _stdin(stdin):
                code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        finally:
            if stdin is not sys.stdin:
                stdin.close()
        assert code == 0, f"{block.where}: `listrank {' '.join(words)}` exited {code}"
        for op in (">", ">>"):
            if op in redirect:
                with open(redirect[op], "a" if op == ">>" else "w", encoding="utf-8") as f:
                    f.write(out.getvalue())
                return ""
        return out.getvalue()

    def _bash(self, line: str, block: Block) -> str:
        shim = self.folder / ".bin"
        if not shim.exists():  # `listrank` as the commands below expect it: this checkout's
            shim.mkdir()
            (shim / "listrank").write_text(f'#!/bin/sh\nexec {sys.executable} -m listrank "$@"\n')
            (shim / "listrank").chmod(0o755)
        env = {**self.env, "PATH": f"{shim}{os.pathsep}{self.env.get('PATH', '')}"}
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", line],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (
            f"{block.where}: `{line}` exited {done.returncode}\n{done.stderr[-2000:]}"
        )
        return done.stdout

    def _server(self, argv: list[str], block: Block) -> None:
        """A long-running server, started as the reader starts it and left running for the
        page's later blocks; ready once it answers (HTTP: its port; stdio MCP: initialize)."""
        stdio = argv[0] == "mcp" and "--transport" not in argv
        port = argv[argv.index("--port") + 1] if "--port" in argv else _PORT
        if port in self.servers:  # a later example on the same port replaces the earlier one
            _stop(self.servers.pop(port))
        log = self.folder / f".server-{len(self.logs)}.log"
        self.logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "listrank", *argv],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.PIPE if stdio else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdio else log.open("wb"),
            stderr=log.open("ab"),
        )
        self.servers[f"stdio-{len(self.logs)}" if stdio else port] = process
        try:
            if stdio:
                self.mcp_sessions.append(_mcp_initialize(process))
            else:
                _wait_for_port(process, int(port))
        except Exception as exc:
            _stop(process)
            raise AssertionError(
                f"{block.where}: `listrank {' '.join(argv)}` did not start: {exc}\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            ) from exc

    # -- other languages -----------------------------------------------------------------

    def _python(self, text: str, block: Block) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(text, block.where, "exec"), self.scope)
        return out.getvalue()

    def _toml(self, text: str, block: Block) -> None:
        from listrank.cli import main

        parsed = tomllib.loads(text)
        if not set(parsed) & _PIPELINE_TABLES:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".toml", dir=self.folder, delete=False) as f:
            f.write(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["config", "check", f.name])
        assert code == 0, f"{block.where}: `listrank config check` refused the block"


def _shows(out: str, expected: str) -> bool:
    """Whether ``out`` is what a console block shows, line by line (trailing spaces aside); a
    line of only ``…`` stands for any lines, as the page leaves them out."""
    parts = [
        ".*?" if line.strip() == "…" else re.escape(line.rstrip()) + r"[ \t]*"
        for line in expected.strip().splitlines()
    ]
    return re.fullmatch(r"\n".join(parts), out.strip(), re.S) is not None


@contextlib.contextmanager
def _stdin(stream: Any) -> Iterator[None]:
    old, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = old


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(process: subprocess.Popen[bytes], port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port}")


def _mcp_initialize(process: subprocess.Popen[bytes], timeout: float = 120) -> dict[str, Any]:
    """One JSON-RPC initialize over stdio, as an agent's client opens the session."""
    assert process.stdin is not None and process.stdout is not None
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "docs-test", "version": "0"},
        },
    }
    process.stdin.write((json.dumps(hello) + "\n").encode())
    process.stdin.flush()
    answer: list[bytes] = []
    reader = threading.Thread(target=lambda: answer.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not answer or not answer[0]:
        raise RuntimeError("no answer to initialize")
    reply = json.loads(answer[0])
    if "result" not in reply:
        raise RuntimeError(f"initialize failed: {reply}")
    return dict(reply["result"])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
