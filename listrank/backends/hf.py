"""Hugging Face transformers, in process, CPU or GPU: chat templates, greedy batched
generation, next-token logprobs over chosen tokens.

Batches: the prompts of one call are sorted by length and cut into batches of at most
``batch_size`` prompts and, with ``max_batch_tokens``, at most that many padded tokens
(prompts x longest prompt), so prompts of similar length share a batch and little compute
goes to padding. ``padding`` counts real and padded prompt tokens over the backend's life.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listrank.backends.base import (
    AttentionRequest,
    AttentionResult,
    Feeding,
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
)
from listrank.backends.chat import CHAT_TEMPLATE_KWARGS, LocalTokenizer
from listrank.backends.embedded import EMBEDDED_ALIASES, EMBEDDED_NAME, embedded_model_dir
from listrank.backends.model_path import check_local_model
from listrank.backends.quiet import quiet_loading
from listrank.errors import ConfigError, ModelLoadError
from listrank.options import Option, bind


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        # checked here: torch's own failure is a bare AssertionError deep inside .to()
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise ConfigError(
                f"device {device!r}: torch {torch.__version__} has {build}; use device='cpu' "
                "(or 'auto', which picks cuda when there is one), or install a CUDA build of "
                "torch"
            )
        suffix = device.partition(":")[2]
        index = int(suffix) if suffix.isdigit() else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {device!r}: only {torch.cuda.device_count()} GPU(s) visible "
                f"(cuda:0 … cuda:{torch.cuda.device_count() - 1})"
            )
    return device


@dataclass
class PaddingStats:
    """Prompt tokens the model ran: ``real`` ones and all of them with padding (``padded``)."""

    real: int = 0
    padded: int = 0

    @property
    def waste(self) -> float:
        """The fraction of the prompt compute spent on padding."""
        return 1 - self.real / self.padded if self.padded else 0.0


def length_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None
) -> list[list[int]]:
    """Indices of ``lengths`` in batches: shortest first, each at most ``batch_size`` long and
    (with ``max_tokens``) at most ``max_tokens`` padded tokens, a longer prompt alone."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        # sorted ascending: the newest prompt is the longest, so it sets the padded width
        padded = (len(current) + 1) * lengths[i]
        if current and (
            len(current) >= batch_size or (max_tokens is not None and padded > max_tokens)
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


class HFBackend(LocalTokenizer):
    """An in-process transformers causal LM.

    ``model`` is None (the embedded SmolLM2), a local folder, a ``.gguf`` file or a hub name.
    Or pass ready ``model_obj`` and ``tokenizer`` objects (tests build tiny models in code).
    """

    name = "hf"
    planning_stand_in = "listrank.backends.planning:hf_stand_in"
    """What plans build instead: the tokenizer alone (backends/planning.py)."""
    OPTIONS = (
        Option(
            "model_obj",
            object,
            None,
            "a ready transformers model",
            changes_answers=True,
            internal=True,
        ),
        Option(
            "tokenizer",
            object,
            None,
            "the ready model's tokenizer",
            changes_answers=True,
            internal=True,
        ),
        Option(
            "device",
            str,
            "auto",
            "auto, cpu, cuda, cuda:1 (numerics differ per device)",
            changes_answers=True,
            example="cuda:1",
        ),
        Option(
            "dtype",
            str | None,
            None,
            "weights precision (default: bfloat16 on CUDA, else float32)",
            changes_answers=True,
            example="bfloat16",
        ),
        Option(
            "batch_size",
            int,
            8,
            "prompts per forward batch",
            changes_answers=False,
            ge=1,
        ),
        Option(
            "max_batch_tokens",
            int | None,
            None,
            "padded prompt tokens per forward batch at most (prompts sorted by length)",
            changes_answers=False,
            ge=1,
            example=8192,
        ),
        Option(
            "attn_implementation",
            str | None,
            None,
            "transformers attention kernel",
            changes_answers=True,
            example="eager",
        ),
        Option(
            "context_length",
            int | None,
            None,
            "context the methods budget for (default: the model's)",
            changes_answers=False,
            ge=1,
            example=1024,
        ),
        CHAT_TEMPLATE_KWARGS,
    )

    def __init__(
        self,
        model: str | None = None,
        *,
        model_obj: Any = None,
        tokenizer: Any = None,
        device: str = "auto",
        dtype: str | None = None,
        batch_size: int = 8,
        max_batch_tokens: int | None = None,
        attn_implementation: str | None = None,
        context_length: int | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import torch

        self.settings = bind(self.OPTIONS, locals())

        if batch_size < 1:
            raise ConfigError("batch_size must be >= 1")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ConfigError("max_batch_tokens must be >= 1")
        self.device = _resolve_device(device)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.padding = PaddingStats()
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        if model_obj is not None:
            if tokenizer is None:
                raise ConfigError("model_obj needs its tokenizer")
            self.model, self.tokenizer = model_obj, tokenizer
            self.model_name = model or getattr(model_obj.config, "_name_or_path", "") or "custom"
        else:
            torch_dtype = (
                getattr(torch, dtype)
                if dtype
                else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
            )
            self.model_name = EMBEDDED_NAME if model in EMBEDDED_ALIASES else str(model)
            self.model, self.tokenizer = _load(model, torch_dtype, attn_implementation)
        self.model.to(self.device)
        self.model.eval()
        # what really runs: the device "auto" chose, the weights' precision (a ready model too)
        self.settings.update(device=self.device, dtype=str(getattr(self.model, "dtype", dtype)))
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        limit = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self._context_length = int(context_length or limit)
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    @staticmethod
    def check_model(model: str | None) -> None:
        """What ``listrank config check`` can tell without loading: a local folder or file
        that is missing or incomplete (ModelLoadError); hub names and the embedded model pass."""
        if model not in EMBEDDED_ALIASES:
            check_local_model(str(model))

    @property
    def feeding(self) -> Feeding:
        """One batched forward pass at a time, merged stage calls: a batch's worth of queries
        on a GPU; one query at a time on a CPU, where merged, padded batches measured slower
        (``python -m benchmarks throughput``, hf rows)."""
        return Feeding("batched", 1 if self.device.startswith("cpu") else self.batch_size)

    @staticmethod
    def gpus(options: Mapping[str, Any]) -> float:
        """One device when the model runs on CUDA."""
        return 1.0 if str(options.get("device", "cpu")).startswith("cuda") else 0.0

    # -- tokens -------------------------------------------------------------------------
    def encode_prompts(self, texts: Sequence[str]) -> Any:
        """Left-padded batch with position ids that ignore the padding."""
        batch = self.tokenizer(
            list(texts), return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        return batch, positions

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], Any, Any]]:
        """(indices into ``texts``, padded batch, position ids) of every batch, each prompt
        rendered and tokenized once; padding is counted in ``self.padding``."""
        import torch

        if not texts:  # an empty call is an empty answer (the tokenizer refuses no texts)
            return
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        pad = self.tokenizer.pad_token_id
        for group in length_batches([len(x) for x in ids], self.batch_size, self.max_batch_tokens):
            width = max(len(ids[i]) for i in group)
            # left padding, as generation continues from the last position of every row
            input_ids = torch.full((len(group), width), pad, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, i in enumerate(group):
                if ids[i]:
                    input_ids[row, width - len(ids[i]) :] = torch.tensor(ids[i])
                    mask[row, width - len(ids[i]) :] = 1
            batch = {"input_ids": input_ids.to(self.device), "attention_mask": mask.to(self.device)}
            positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            self.padding.real += sum(len(ids[i]) for i in group)
            self.padding.padded += len(group) * width
            yield group, batch, positions

    # -- capabilities -------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        import torch

        texts = [
            self.prompt_text(r.messages, r.assistant_prefix, thinking=r.thinking) for r in requests
        ]
        results: dict[int, GenerationResult] = {}
        for group, batch, _ in self.batches(texts):
            chunk = [requests[i] for i in group]
            start = time.perf_counter()
            with torch.inference_mode():
                generated = self.model.generate(
                    **batch,
                    max_new_tokens=max(r.max_new_tokens for r in chunk),
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            share = (time.perf_counter() - start) / len(chunk)
            width = batch["input_ids"].shape[1]
            prompt_lens = batch["attention_mask"].sum(-1).tolist()
            for j, r in enumerate(chunk):
                new = generated[j, width:][: r.max_new_tokens]
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                n_new = int((new != self.tokenizer.pad_token_id).sum())
                # stopped by the budget, not by an end token: the answer may be cut
                eos = self.tokenizer.eos_token_id
                ended = eos is not None and bool((new == eos).any())
                truncated = n_new >= r.max_new_tokens and not ended
                results[group[j]] = GenerationResult(
                    text, int(prompt_lens[j]), n_new, share, truncated=truncated
                )
        return [results[i] for i in range(len(requests))]

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        import torch

        texts = [self.prompt_text(r.messages, r.assistant_prefix) for r in requests]
        results: dict[int, LogprobResult] = {}
        for group, batch, positions in self.batches(texts):
            chunk = [requests[i] for i in group]
            start = time.perf_counter()
            with torch.inference_mode():
                # only the last position's logits are read: skip the LM head elsewhere
                keep = {"logits_to_keep": 1} if self._keeps_logits else {}
                logits = self.model(**batch, position_ids=positions, **keep).logits[:, -1, :]
                logprobs = torch.log_softmax(logits.float(), dim=-1)
            share = (time.perf_counter() - start) / len(chunk)
            prompt_lens = batch["attention_mask"].sum(-1).tolist()
            for j, r in enumerate(chunk):
                scores: dict[str, float] = {}
                for tok in r.tokens:
                    scores[tok] = float(logprobs[j, self.single_token_id(tok)])
                results[group[j]] = LogprobResult(scores, int(prompt_lens[j]), share)
        return [results[i] for i in range(len(requests))]

    # -- attention query rows (ICR); the work lives in hf_attention -----------------------
    @property
    def num_layers(self) -> int:
        from listrank.backends.hf_attention import num_layers

        return num_layers(self.model)

    def prefix_attention(self, requests: Sequence[AttentionRequest]) -> list[AttentionResult]:
        from listrank.backends.hf_attention import prefix_attention

        return prefix_attention(self, requests)


def _load(model: str | None, dtype: Any, attn_implementation: str | None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        if model in EMBEDDED_ALIASES:
            folder, gguf = str(embedded_model_dir()), None
        elif str(model).endswith(".gguf"):
            check_local_model(str(model))
            path = Path(str(model))
            folder, gguf = str(path.parent), path.name
        else:
            check_local_model(str(model))
            folder, gguf = str(model), None
        extra = {"gguf_file": gguf} if gguf else {}
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
            model_obj = AutoModelForCausalLM.from_pretrained(folder, **extra, **kwargs)
    except ModelLoadError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load model {model!r}: {exc}") from exc
    source = Path(folder) / gguf if gguf else _local_folder(folder)
    if source is not None:
        _remember_tokenizer(source, model_obj, tokenizer)
    return model_obj, tokenizer


def _local_folder(model: str) -> Path | None:
    """The folder a model was read from: a path, or a hub name's Hugging Face cache folder
    (where a plan looks for it), None when there is none."""
    from listrank.backends.model_path import hub_folder, looks_local

    return Path(model).expanduser() if looks_local(model) else hub_folder(model)


def _remember_tokenizer(source: Path, model_obj: Any, tokenizer: Any) -> None:
    """The tokenizer as loaded (before the backend sets its padding), with the model's context
    and layer count, kept for plans (backends/tokenizer_cache.py)."""
    from listrank.backends.hf_attention import num_layers
    from listrank.backends.tokenizer_cache import readable_directly, save_snapshot

    if readable_directly(source):  # plans read its files as they are: nothing to keep
        return
    try:
        layers: int | None = num_layers(model_obj)
    except (AttributeError, TypeError):
        layers = None
    context = getattr(model_obj.config, "max_position_embeddings", None)
    save_snapshot(source, tokenizer, {"context": context, "layers": layers})
