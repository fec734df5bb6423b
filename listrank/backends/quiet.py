"""Model loading without progress bars unless asked: transformers' "Loading weights" and GGUF
conversion bars and its advisory logs are noise in a library call. ``LISTRANK_VERBOSE=1`` (the
CLI's ``--verbose`` sets it) shows them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

VERBOSE_ENV = "LISTRANK_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false", "no")


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Inside: transformers' and huggingface_hub's bars off and transformers' logs at error
    level; both are put back as they were on the way out."""
    if verbose():
        yield
        return
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars_were_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
