"""How the OpenAI backend sends one request: a JSON body POSTed to ``{base_url}{path}``, the
answer's JSON (or its text, when it is not JSON) back.

Two transports, chosen by the backend's ``transport`` option; neither changes an answer:

- ``http`` (the default): HTTP/1.1 with h11 (the protocol library under httpx) over asyncio
  streams, keep-alive connections pooled per server. The body is the JSON the SDK's
  ``create()`` sends, encoded as the SDK encodes it, with the headers that matter
  (``Authorization``, ``Content-Type``, ``OpenAI-Organization`` / ``OpenAI-Project`` from the
  same environment variables); errors are ``openai_errors``' StatusError / TransportError,
  read from the response as the SDK reads its own. Why not the SDK: its request path (request
  options, header merging, httpx's layers over h11, response models) costs about three times
  this one's CPU per call, and with hundreds of calls a second on one event loop that CPU is
  the client's ceiling; importing the SDK takes most of a second (aiohttp, the other
  candidate, costs as little per call but a fifth of a second to import).
- ``sdk``: the ``openai`` SDK's ``AsyncOpenAI.post`` (its auth, headers, httpx, error types),
  asked for the raw text so that both transports read answers with the same code.

Retries, deadlines and rate limits are the backend's (tenacity, ``retry.py``), never the
transport's: the SDK's own retries are off.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any, Protocol

import h11

from listrank.backends.openai_errors import StatusError, TransportError
from listrank.errors import ConfigError

TRANSPORTS = ("http", "sdk")
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the SDK's default
_CHUNK = 65536
# headers the SDK sends from the environment
_ENV_HEADERS = (("OpenAI-Organization", "OPENAI_ORG_ID"), ("OpenAI-Project", "OPENAI_PROJECT_ID"))


# the create() parameters the backend sends; create() writes model and messages (or prompt)
# first, then its parameters in alphabetical order, then extra_body's keys
_SDK_PARAMS = frozenset(
    {
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "reasoning_effort",
        "seed",
        "stop",
        "temperature",
        "top_logprobs",
    }
)
_HEAD = ("model", "messages", "prompt")


def sdk_body(body: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``body`` with ``extra`` merged last, keys in the order ``create()`` writes them (so
    what is sent is byte for byte what the SDK sends): the keys create() does not know go
    where its ``extra_body`` goes, and an ``extra`` key replaces a value in place."""
    head = {k: body[k] for k in _HEAD if k in body}
    params = {k: body[k] for k in sorted(body) if k in _SDK_PARAMS}
    rest = {k: v for k, v in body.items() if k not in head and k not in params}
    return {**head, **params, **rest, **(extra or {})}


def encode(body: Mapping[str, Any]) -> bytes:
    """The body as the SDK (and httpx) encode JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def read_answer(text: str) -> Any:
    """The answer's JSON value, or its text when it is not JSON (the backend then quotes it in
    a BadResponseError)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class Transport(Protocol):
    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """The answer of a 2xx (see :func:`read_answer`); an error status or a failed
        connection raises."""

    async def aclose(self) -> None: ...


def make_transport(kind: str, base_url: str | None, api_key: str, timeout: float) -> Transport:
    """The transport of that kind for one server. A server the environment's HTTP(S)_PROXY
    applies to (NO_PROXY aside) is reached through the SDK's client, which speaks to proxies
    (so both kinds reach the same servers the same way)."""
    if kind == "http" and _env_proxy(base_url or DEFAULT_BASE_URL) is None:
        return HTTPTransport(base_url, api_key, timeout)
    if kind == "http":
        return SDKTransport(base_url, api_key, timeout)
    if kind == "sdk":
        return SDKTransport(base_url, api_key, timeout)
    raise ConfigError(f"transport={kind!r}: use one of {', '.join(TRANSPORTS)}")


class HTTPTransport:
    """HTTP/1.1 with h11 over asyncio streams, keep-alive connections pooled per server.

    Used on the backend's private event loop only. A pooled connection that the server closed
    while idle is replaced once, when nothing of the answer had arrived (as httpx and aiohttp
    do); a request cut off by its deadline closes its connection, which may be mid-answer."""

    def __init__(self, base_url: str | None, api_key: str, timeout: float) -> None:
        url = urllib.parse.urlsplit((base_url or DEFAULT_BASE_URL).rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"base_url {base_url!r} is not an http(s) URL")
        self.scheme, self.host = url.scheme, url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path
        default_port = url.port is None or url.port == (443 if url.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        self.headers = [
            ("Host", host if default_port else f"{host}:{self.port}"),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
            ("User-Agent", "listrank"),
            ("Authorization", f"Bearer {api_key}"),
        ]
        for header, var in _ENV_HEADERS:
            if os.environ.get(var):
                self.headers.append((header, os.environ[var]))
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._ssl: Any = None

    async def _connect(self) -> _Connection:
        if self.scheme == "https" and self._ssl is None:
            self._ssl = _trust_store()
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl if self.scheme == "https" else None,
                    server_hostname=self.host if self.scheme == "https" else None,
                )
        except TimeoutError as exc:
            raise TransportError(f"no connection within {self.timeout:g}s") from exc
        except OSError as exc:
            raise TransportError(f"connection error ({type(exc).__name__})") from exc
        return _Connection(reader, writer)

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        data = encode(body)
        request = h11.Request(
            method="POST",
            target=self.prefix + path,
            headers=[*self.headers, ("Content-Length", str(len(data)))],
        )
        while True:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._connect()
            try:
                status, headers, raw = await conn.exchange(request, data)
            except _Stale:
                conn.close()
                if reused:
                    continue  # closed by the server while idle: once more on a new one
                raise TransportError("connection error (closed before an answer)") from None
            except BaseException:  # failed or cut off mid-answer: the connection is spent
                conn.close()
                raise
            if conn.reusable():
                self._idle.append(conn)
            else:
                conn.close()
            text = raw.decode("utf-8", "replace")
            if status >= 400:
                raise StatusError(status, text, headers)
            return read_answer(text)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Stale(Exception):
    """The connection ended before any byte of the answer."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    async def exchange(
        self, request: h11.Request, data: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn = self.h11
        self.writer.write(
            conn.send(request) + (conn.send(h11.Data(data=data)) or b"")
            + (conn.send(h11.EndOfMessage()) or b"")
        )  # fmt: skip
        got_any = False
        status, headers, chunks = 0, {}, []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if not got_any:
                    raise _Stale from exc
                raise TransportError(f"connection error (bad HTTP: {exc})") from exc
            if event is h11.NEED_DATA:
                try:
                    received = await self.reader.read(_CHUNK)
                except OSError as exc:
                    if not got_any:
                        raise _Stale from exc
                    raise TransportError(f"connection error ({type(exc).__name__})") from exc
                got_any = got_any or bool(received)
                conn.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                           for k, v in event.headers}  # fmt: skip
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                if not got_any:
                    raise _Stale
                raise TransportError("connection error (closed mid-answer)")
            # InformationalResponse (100 Continue): wait for the real one

    def reusable(self) -> bool:
        conn = self.h11
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        self.writer.close()


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, unless NO_PROXY exempts its host."""
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _trust_store() -> Any:
    """What the SDK's HTTP stack trusts: SSL_CERT_FILE or SSL_CERT_DIR when set, else the
    system's certificates (certifi's bundle where the system has none)."""
    import ssl

    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    paths = ssl.get_default_verify_paths()
    if (paths.cafile and os.path.isfile(paths.cafile)) or (
        paths.capath and os.path.isdir(paths.capath)
    ):
        return ssl.create_default_context()
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class SDKTransport:
    """The openai SDK's client, without its retries (the backend retries)."""

    def __init__(self, base_url: str | None, api_key: str, timeout: float) -> None:
        import openai  # here, not at import: it takes most of a second

        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        # cast_to=str: the SDK's status check and error types, no response models (both
        # transports read the same JSON with the same code)
        text = await self._client.post(path, cast_to=str, body=dict(body))
        return read_answer(text)

    async def aclose(self) -> None:
        await self._client.close()
