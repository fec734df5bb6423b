"""How the OpenAI backend sends one request: a JSON body POSTed to ``{base_url}{path}``, the
answer's JSON (or its text, when it is not JSON) back.

Two transports, chosen by the backend's ``transport`` option; neither changes an answer:

- ``http`` (the default): aiohttp, one connection pool per server. The body is the JSON the
  SDK's ``create()`` sends, encoded as the SDK encodes it, with the headers that matter
  (``Authorization``, ``Content-Type``, ``OpenAI-Organization`` / ``OpenAI-Project`` from the
  same environment variables); errors are ``openai_errors``' StatusError / TransportError,
  read from the response as the SDK reads its own. Why not the SDK: its request path
  (request options, header merging, httpx's pure-Python HTTP/1.1 stack, response models) costs
  about three times aiohttp's CPU per call, and with hundreds of calls a second on one event
  loop that CPU is the client's ceiling; importing the SDK also takes most of a second.
- ``sdk``: the ``openai`` SDK's ``AsyncOpenAI.post`` (its auth, headers, httpx, error types),
  asked for the raw text so that both transports read answers with the same code.

Retries, deadlines and rate limits are the backend's (tenacity, ``retry.py``), never the
transport's: the SDK's own retries are off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from listrank.backends.openai_errors import RequestTimeout, StatusError, TransportError
from listrank.errors import ConfigError

if TYPE_CHECKING:
    import aiohttp

TRANSPORTS = ("http", "sdk")
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the SDK's default
# headers the SDK sends from the environment
_ENV_HEADERS = (("OpenAI-Organization", "OPENAI_ORG_ID"), ("OpenAI-Project", "OPENAI_PROJECT_ID"))


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
    if kind == "http":
        return HTTPTransport(base_url, api_key, timeout)
    if kind == "sdk":
        return SDKTransport(base_url, api_key, timeout)
    raise ConfigError(f"transport={kind!r}: use one of {', '.join(TRANSPORTS)}")


class HTTPTransport:
    """aiohttp; the session is opened on the event loop of the first request (the backend's
    private loop, where every later request runs too)."""

    def __init__(self, base_url: str | None, api_key: str, timeout: float) -> None:
        try:
            import aiohttp  # noqa: F401  (here: a missing install is a config error, not a call's)
        except ImportError as exc:
            raise ConfigError(
                "transport='http' needs aiohttp: pip install 'listrank[openai]' "
                "(or pass transport='sdk')"
            ) from exc
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "listrank",
        }
        for header, var in _ENV_HEADERS:
            if os.environ.get(var):
                self.headers[header] = os.environ[var]
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        ssl: Any = _trust_store() if self.base_url.startswith("https:") else True
        # HTTP(S)_PROXY / NO_PROXY, as httpx honours them, looked up once: aiohttp's
        # trust_env looks them (and ~/.netrc) up on a worker thread for every request
        self._proxy = _env_proxy(self.base_url)
        self._session = aiohttp.ClientSession(
            headers=self.headers,
            # the backend bounds requests in flight; connections are not a second bound
            connector=aiohttp.TCPConnector(limit=0, ssl=ssl),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeout, sock_read=self.timeout
            ),
            cookie_jar=aiohttp.DummyCookieJar(),  # an API sets none to send back
            skip_auto_headers=("Accept-Encoding",),
        )
        return self._session

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        import aiohttp

        session = self._session or self._open()
        try:
            async with session.post(self.base_url + path, data=encode(body), proxy=self._proxy) as resp:
                raw = await resp.read()
                status, headers = resp.status, resp.headers
        except aiohttp.ServerTimeoutError as exc:
            raise RequestTimeout("request timed out") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"connection error ({type(exc).__name__})") from exc
        text = raw.decode("utf-8", "replace")
        if status >= 400:
            raise StatusError(status, text, headers)
        return read_answer(text)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, unless NO_PROXY exempts its host."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _trust_store() -> Any:
    """The SDK's (httpx's) CA bundle, so both transports trust the same servers."""
    import ssl

    try:
        import certifi
    except ImportError:
        return True  # the system's
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
