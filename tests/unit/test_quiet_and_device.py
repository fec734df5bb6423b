"""Python callers get no loading bars unless asked, and device='cuda' without CUDA is a
ConfigError naming the fix (torch's own is a bare AssertionError)."""

from __future__ import annotations

import pytest
import torch
from transformers.utils import logging as hf_logging

from listrank.backends.hf import HFBackend
from listrank.backends.quiet import quiet_loading
from listrank.errors import ConfigError
from listrank.testing import embedded_tokenizer, tiny_model


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_cuda_without_cuda_is_a_config_error_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"device 'cuda'.*use device='cpu'"):
        HFBackend(
            "tiny", model_obj=tiny_model("llama"), tokenizer=embedded_tokenizer(), device="cuda"
        )
    with pytest.raises(ConfigError, match="cuda:1"):
        HFBackend(
            "tiny", model_obj=tiny_model("llama"), tokenizer=embedded_tokenizer(), device="cuda:1"
        )


def test_loading_is_quiet_and_puts_the_settings_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTRANK_VERBOSE", raising=False)
    hf_logging.enable_progress_bar()
    level = hf_logging.get_verbosity()
    with quiet_loading():
        assert not hf_logging.is_progress_bar_enabled()
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.is_progress_bar_enabled() and hf_logging.get_verbosity() == level


def test_verbose_leaves_the_bars_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTRANK_VERBOSE", "1")
    hf_logging.enable_progress_bar()
    with quiet_loading():
        assert hf_logging.is_progress_bar_enabled()
