"""A 7-8B model on one GPU through the hf backend: one query at a time against the scheduler.

The model is a Llama-3.1-8B (or ``--arch qwen2.5-7b``) architecture built from its config in
code with random weights, in bf16 on CUDA -- nothing is downloaded. The tokenizer is the
embedded SmolLM2's (its ids fit the vocabulary). Random weights answer garbage, so RankGPT
generates a fixed number of tokens (end-of-sequence is switched off) and the orders are not
judged; what is measured is throughput. DL19 BM25 top-100 (``shared/data``), sliding 20/10,
FIRST, RankGPT and ICR; per method one at a time, then all in flight at several counts (their
calls at a stage merged into one backend call, cut into batches of that size).

Printed per run: wall seconds, prefill tokens/s, generated tokens/s, and the fraction of the
GPU's dense bf16 peak reached (2 x parameters x (prompt + generated tokens) FLOPs / wall).

    python -m benchmarks gpu [--queries 8] [--in-flight 4,8,16] [--arch llama-3.1-8b]
    python -m benchmarks gpu --cpu-tiny     # the same code path on CPU, a tiny config

Without a CUDA device it stops at once with a message (exit 2), before loading anything big.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.data_dir import first_queries, shared_data

DL19 = "trec-dl19-passage/dl19.bm25.top100.normalized.jsonl"
# dense bf16 tensor peaks, FLOP/s, by device-name fragment (no sparsity)
BF16_PEAK = (
    ("H200", 989e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
)
RANKGPT_TOKENS = 40  # fixed answer length: ~ "[3] > [1] > ..." for 20 passages

ARCHS: dict[str, tuple[str, dict[str, Any]]] = {
    "llama-3.1-8b": (
        "llama",
        {
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 128256,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
            "rms_norm_eps": 1e-5,
            "tie_word_embeddings": False,
        },
    ),
    "qwen2.5-7b": (
        "qwen2",
        {
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": False,
        },
    ),
    # the code path on a CPU: same families, tiny sizes
    "tiny": (
        "llama",
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 49152,
            "max_position_embeddings": 8192,
        },
    ),
}


NO_CUDA = (
    "benchmarks.gpu: no CUDA device (torch.cuda.is_available() is False); this benchmark "
    "needs one GPU. Use --cpu-tiny to run its code path on a CPU."
)


def cuda_torch() -> Any:
    """torch, if a CUDA device is present; None (and the reason printed) otherwise."""
    try:
        import torch
    except ImportError:
        print("benchmarks.gpu: torch is not installed", file=sys.stderr)
        return None
    if not torch.cuda.is_available():
        print(NO_CUDA, file=sys.stderr)
        return None
    return torch


def build_model(arch: str, device: str, dtype: Any, vocab_floor: int) -> Any:
    """A random-weight causal LM of ``arch``, built from its config (no download)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    family, sizes = ARCHS[arch]
    config = AutoConfig.for_model(
        family, **{**sizes, "vocab_size": max(sizes["vocab_size"], vocab_floor)}
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = None  # fixed-length answers (random weights)
    return model.eval()


@dataclass
class Result:
    method: str
    variant: str
    wall_s: float
    prompt_tokens: int
    generated_tokens: int
    calls: int

    def flops(self, params: int) -> float:
        return 2.0 * params * (self.prompt_tokens + self.generated_tokens)


METHODS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("FIRST", {"method": "first"}),
    ("RankGPT", {"method": "rankgpt", "max_new_tokens": RANKGPT_TOKENS}),
    ("ICR", {"method": "icr"}),
)


def run(
    model: Any,
    tokenizer: Any,
    device: str,
    reqs: list[tuple[Any, list[Any]]],
    in_flight: list[int],
    sync: Any,
) -> list[Result]:
    from listrank.backends.hf import HFBackend
    from listrank.pipeline.reranker import Reranker

    results = []
    for label, method in METHODS:
        options = {**method, "strategy": "sliding", "window": 20, "step": 10}
        variants = [("one at a time", 1, 1)] + [(f"{n} in flight", n, n) for n in in_flight]
        for variant, n, batch in variants:
            backend = HFBackend(
                model_obj=model, tokenizer=tokenizer, device=device, batch_size=batch
            )
            rr = Reranker(backend=backend, **options)
            rr.rerank(*reqs[0])  # warm up: kernels, allocator
            sync()
            start = time.perf_counter()
            if n == 1:
                rankings = [rr.rerank(q, c) for q, c in reqs]
            else:
                rankings = rr.rerank_many(reqs, max_in_flight=n)
            sync()
            wall = time.perf_counter() - start
            results.append(
                Result(
                    label,
                    variant,
                    wall,
                    sum(r.trace.prompt_tokens for r in rankings),
                    sum(r.trace.completion_tokens for r in rankings),
                    sum(r.trace.n_calls for r in rankings),
                )
            )
            print(f"  {label} {variant}: {wall:.1f} s", file=sys.stderr, flush=True)
    return results


def print_table(results: list[Result], params: int, peak: float | None, title: str) -> None:
    print(title)
    head = (
        f"{'method':<8} {'variant':<14} {'wall s':>7} {'calls':>6} {'prefill tok/s':>14} "
        f"{'gen tok/s':>10} {'of bf16 peak':>13} {'vs one':>7}"
    )
    print(head)
    print("-" * len(head))
    base: dict[str, float] = {}
    for r in results:
        base.setdefault(r.method, r.wall_s)
        frac = f"{r.flops(params) / r.wall_s / peak:.1%}" if peak else "n/a"
        print(
            f"{r.method:<8} {r.variant:<14} {r.wall_s:>7.1f} {r.calls:>6} "
            f"{r.prompt_tokens / r.wall_s:>14,.0f} {r.generated_tokens / r.wall_s:>10,.1f} "
            f"{frac:>13} {base[r.method] / r.wall_s:>6.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__)
    p.add_argument("--arch", choices=[a for a in ARCHS if a != "tiny"], default="llama-3.1-8b")
    p.add_argument("--queries", type=int, default=8, help="DL19 queries (default 8)")
    p.add_argument("--depth", type=int, default=100, help="BM25 candidates per query")
    p.add_argument("--in-flight", default="4,8,16", help="in-flight counts to compare")
    p.add_argument("--input", help="JSONL requests instead of DL19 (shared/data)")
    p.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, if unknown")
    p.add_argument(
        "--cpu-tiny",
        action="store_true",
        help="run the code path on a CPU with a tiny config (a check, not a measurement)",
    )
    args = p.parse_args(argv)
    if args.cpu_tiny:
        import torch

        device, dtype, arch, peak = "cpu", torch.float32, "tiny", None

        def sync() -> None:
            return None
    else:
        torch = cuda_torch()  # before anything large is read or built
        if torch is None:
            return 2
        device, dtype, arch = "cuda", torch.bfloat16, args.arch
        name = torch.cuda.get_device_name(0)
        peak = (args.peak_tflops * 1e12) if args.peak_tflops else None
        peak = peak or next((v for k, v in BF16_PEAK if k in name), None)
        sync = torch.cuda.synchronize
    source = Path(args.input) if args.input else shared_data() / DL19
    if not source.is_file():
        print(f"benchmarks.gpu: {source} not found (pass --input)", file=sys.stderr)
        return 2
    reqs = first_queries(source, args.queries, args.depth)
    in_flight = [int(x) for x in args.in_flight.split(",") if x.strip()]

    from listrank.testing.tiny import embedded_tokenizer

    tokenizer = embedded_tokenizer()
    start = time.perf_counter()
    model = build_model(arch, device, dtype, len(tokenizer))
    params = sum(p.numel() for p in model.parameters())
    built = time.perf_counter() - start
    where = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"{arch}: {params / 1e9:.2f} B parameters, {dtype}, built in {built:.0f} s on {where}",
          file=sys.stderr)  # fmt: skip
    results = run(model, tokenizer, device, reqs, in_flight, sync)
    title = (
        f"{arch} (random weights, {params / 1e9:.2f} B) on {where}; {len(reqs)} queries x "
        f"{args.depth}, sliding 20/10; RankGPT {RANKGPT_TOKENS} generated tokens per call"
    )
    print_table(results, params, peak, title)
    if peak is None:
        print("(fraction of peak: unknown device; pass --peak-tflops)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
