"""The door every JSON input passes (CLI files, HTTP bodies, manifests): strict, bounded parsing
that fails as one InputError naming the line and the field, and strict JSON out.

Refused at the door, so nothing later (a model call, a journal write, a response) can trip on it:
- nesting deeper than ``MAX_DEPTH`` (Python's own parser dies near 1,000 with RecursionError);
- integers longer than ``MAX_INT_DIGITS`` digits (Python refuses to read 4,300 and more, and
  ``math.isfinite`` overflows on those past 1e308) and floats that overflow to infinity;
- ``NaN`` / ``Infinity`` literals, which are not JSON (they would be echoed back as bare ``NaN``);
- lone UTF-16 surrogates (``"\\ud800"``), which cannot be written as UTF-8: rejected, not
  replaced, so the user learns which field was broken rather than getting a changed text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from listrank.errors import InputError

MAX_DEPTH = 64
MAX_INT_DIGITS = 100

_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    """Raised by the parse hooks; turned into an InputError by :func:`loads`."""


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer has {digits} digits; at most {MAX_INT_DIGITS} are accepted")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:40]} is too large")
    return value


def _parse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON (numbers must be finite)")


def loads(data: str | bytes, *, line: int | None = None) -> Any:
    """Parse one JSON document under the limits above; every refusal is an InputError."""
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        obj = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except UnicodeDecodeError as exc:
        raise InputError(f"invalid UTF-8 ({exc.reason})", line=line) from None
    except RecursionError:
        raise InputError(
            f"JSON nested too deeply (at most {MAX_DEPTH} levels)", line=line
        ) from None
    except _Refused as exc:
        raise InputError(str(exc), line=line) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", line=line) from None
    except ValueError as exc:  # e.g. Python's own integer-digits limit
        raise InputError(f"not valid JSON ({str(exc).splitlines()[0]})", line=line) from None
    check(obj, line=line)
    return obj


def check(obj: Any, *, line: int | None = None, field: str = "") -> None:
    """Depth and lone-surrogate check of a decoded value (iterative: it never recurses);
    ``field`` names ``obj`` in the error."""
    stack: list[tuple[Any, str, int]] = [(obj, field, 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise InputError(_SURROGATE_MSG, line=line, field=path or None)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InputError(
                    f"JSON nested too deeply (at most {MAX_DEPTH} levels)",
                    line=line,
                    field=path or None,
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    where = f"{path}.{key}" if path else str(key)
                    if _SURROGATE.search(key):
                        raise InputError(_SURROGATE_MSG, line=line, field=path or None)
                    stack.append((item, where, depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


_SURROGATE_MSG = "holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text"


_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_for_utf8(text: str) -> str:
    """JSON text with NEL/U+2028/U+2029 and any lone surrogate written as ``\\uXXXX`` escapes:
    one record stays one line for every JSONL reader, and the text can always be encoded as
    UTF-8 (a lone surrogate from upstream would otherwise crash the write)."""
    for char, escape in _LINE_BREAKS.items():
        if char in text:
            text = text.replace(char, escape)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON out: a non-finite number is an error here, never a bare ``NaN`` in a file.
    Line-break characters and lone surrogates are escaped (:func:`escape_for_utf8`)."""
    kwargs.setdefault("ensure_ascii", False)
    return escape_for_utf8(json.dumps(obj, allow_nan=False, **kwargs))
