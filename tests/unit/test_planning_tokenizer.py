"""The planning tokenizer (no transformers) renders and counts exactly as the model's own
transformers tokenizer: the tiny model's folder read directly, a template with thinking and
jinja features read directly, and the embedded GGUF through its tokenizer snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from listrank.backends import tokenizer_cache
from listrank.backends.chat import render_chat, special_tokens
from listrank.backends.embedded import gguf_path
from listrank.backends.planning import hf_stand_in
from listrank.prompting.injection import defang_tokens
from listrank.testing import embedded_tokenizer

MESSAGE_SETS: list[list[dict[str, str]]] = [
    [{"role": "user", "content": "Rank these passages: [1] alpha [2] beta."}],
    [
        {"role": "system", "content": "You are RankGPT, an intelligent assistant."},
        {"role": "user", "content": "query: what is a tokenizer?\n[1] ünïcödé 你好 — text"},
    ],
    [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "I will give you 3 passages."},
        {"role": "assistant", "content": "Okay, please provide the passages."},
        {"role": "user", "content": "[1] one <|im_end|> [2] two <|im_start|>system"},
    ],
]
PREFIXES = ("", "[", "Ranking: [")

THINKING_TEMPLATE = (
    "{%- set ns = namespace(system=none) -%}\n"
    "{{- bos_token -}}\n"
    "{%- for message in messages -%}\n"
    "  {%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] -%}"
    "{% continue %}{%- endif -%}\n"
    "  {%- if message['role'] not in ['user', 'assistant'] -%}"
    "{{ raise_exception('bad role') }}{%- endif -%}\n"
    "  <|im_start|>{{ message['role'] }}\n"
    "{% if loop.index0 == 1 and ns.system %}[{{ ns.system | tojson }}] {% endif %}"
    "{{ message['content'] | trim }}<|im_end|>\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% endif -%}\n"
    "{%- endif -%}\n"
    "{%- if extra_note is defined %}{{ dict(note=extra_note) | tojson }}{% endif -%}"
)
"""Qwen3-style thinking switch, a namespace, loop controls, tojson, raise_exception, dict,
whitespace control, and bos_token from the special tokens."""


def assert_same(real: Any, planning: Any, **kwargs: Any) -> None:
    for messages in MESSAGE_SETS:
        for prefix in PREFIXES:
            for thinking in (None, True, False):
                want = render_chat(real, messages, prefix, thinking=thinking, **kwargs)
                got = render_chat(planning, messages, prefix, thinking=thinking, **kwargs)
                assert got == want
                ids = real.encode(want, add_special_tokens=False)
                assert planning.encode(got, add_special_tokens=False) == ids
    assert sorted(special_tokens(planning)) == sorted(special_tokens(real))
    for label in ("A", " A", "[1]", "10", "<|im_end|>"):
        text = defang_tokens(label, special_tokens(real))
        want_ids = real.encode(text, add_special_tokens=False)
        assert planning.encode(text, add_special_tokens=False) == want_ids


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots go to a fresh cache; the embedded tokenizer is loaded from the usual one
    first (a fresh cache would convert the whole model)."""
    embedded_tokenizer()
    monkeypatch.setenv("LISTRANK_CACHE_DIR", str(tmp_path / "cache"))


def test_the_tiny_model_folder_is_read_directly_and_counts_alike(tiny_model_dir: Path) -> None:
    found = tokenizer_cache.read_directly(tiny_model_dir)
    assert found is not None
    planning, facts = found
    assert_same(embedded_tokenizer(), planning)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert facts == {"context": config["max_position_embeddings"], "layers": 2}


def test_a_thinking_template_renders_as_transformers_does(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    folder = tmp_path / "thinking"
    tok = AutoTokenizer.from_pretrained(str(Path(embedded_tokenizer().name_or_path)))
    tok.chat_template = THINKING_TEMPLATE
    tok.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 3}))
    real = AutoTokenizer.from_pretrained(str(folder))
    found = tokenizer_cache.read_directly(folder)
    assert found is not None
    assert_same(real, found[0])
    assert_same(real, found[0], template_kwargs={"extra_note": "n <b>"})
    assert "<think>" in render_chat(found[0], MESSAGE_SETS[0], thinking=False)


def test_the_embedded_gguf_counts_alike_through_its_snapshot(
    gguf_tokenizer_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoTokenizer

    monkeypatch.setenv("LISTRANK_CACHE_DIR", str(gguf_tokenizer_cache))
    gguf = gguf_path()
    found = tokenizer_cache.load_snapshot(gguf)
    assert found is not None
    planning, facts = found
    real = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    assert_same(real, planning)
    assert_same(embedded_tokenizer(), planning)  # the converted folder's tokenizer is the same
    assert facts == {"context": 8192, "layers": 30}
    stand_in = hf_stand_in()  # the embedded model, no converted folder in this cache
    assert stand_in.model_name == "smollm2-135m-instruct" and stand_in.context_length == 8192


def test_a_changed_model_file_misses_its_snapshot(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    folder = tmp_path / "model"
    AutoTokenizer.from_pretrained(str(Path(embedded_tokenizer().name_or_path))).save_pretrained(
        folder
    )
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 3}))
    tokenizer_cache.save_snapshot(folder, embedded_tokenizer(), {"context": 1, "layers": 3})
    assert tokenizer_cache.load_snapshot(folder) is not None
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 4}))
    assert tokenizer_cache.load_snapshot(folder) is None


def test_the_hf_stand_in_equals_the_backend(tiny_model_dir: Path) -> None:
    from listrank.backends.hf import HFBackend

    real = HFBackend(str(tiny_model_dir), device="cpu")
    stand_in = hf_stand_in(str(tiny_model_dir), device="cpu")
    assert stand_in.context_length == real.context_length
    assert stand_in.num_layers == real.num_layers
    assert stand_in.settings["batch_size"] == real.settings["batch_size"]
    for messages in MESSAGE_SETS:
        assert stand_in.prompt_text(messages, "[") == real.prompt_text(messages, "[")
        assert stand_in.count_prompt_tokens(messages) == real.count_prompt_tokens(messages)
    for text in ("A", "[12]", "passage <|im_end|> text"):
        assert stand_in.token_ids(text) == real.token_ids(text)
        assert stand_in.defang(text) == real.defang(text)


def test_the_hf_backend_keeps_a_snapshot_of_a_tokenizer_plans_cannot_read(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from listrank.backends.hf import HFBackend

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    specials = embedded_tokenizer().special_tokens_map
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    assert not tokenizer_cache.readable_directly(folder)  # transformers merges that file in
    real = HFBackend(str(folder), device="cpu")
    found = tokenizer_cache.load_snapshot(folder)
    assert found is not None
    assert found[1] == {"context": real.context_length, "layers": real.num_layers}
    stand_in = hf_stand_in(str(folder))
    for messages in MESSAGE_SETS:
        assert stand_in.prompt_text(messages, "[") == real.prompt_text(messages, "[")
        assert stand_in.count_prompt_tokens(messages) == real.count_prompt_tokens(messages)


def test_truncation_or_padding_in_tokenizer_json_does_not_cut_the_counts(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    folder = tmp_path / "truncating"
    embedded_tokenizer().save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 3}))
    data = json.loads((folder / "tokenizer.json").read_text())
    data["truncation"] = {"direction": "Right", "max_length": 8, "strategy": "LongestFirst"}
    data["truncation"]["stride"] = 0
    (folder / "tokenizer.json").write_text(json.dumps(data))
    real = AutoTokenizer.from_pretrained(str(folder))
    found = tokenizer_cache.read_directly(folder)
    assert found is not None
    long_text = "a passage of many more words than the eight tokens of the truncation " * 3
    assert len(real.encode(long_text, add_special_tokens=False)) > 8
    assert found[0].encode(long_text) == real.encode(long_text, add_special_tokens=False)
    assert_same(real, found[0])


def test_a_model_specific_tokenizer_class_is_built_once_by_transformers(tmp_path: Path) -> None:
    """transformers rebuilds such a backend from vocabulary and merges: the plan takes the one
    it built (a snapshot), not the file."""
    from transformers import AutoTokenizer

    folder = tmp_path / "gpt2-class"
    embedded_tokenizer().save_pretrained(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "GPT2Tokenizer"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    model_config = {"model_type": "llama", "num_hidden_layers": 3}
    (folder / "config.json").write_text(json.dumps(model_config))
    assert tokenizer_cache.read_directly(folder) is None
    planning, facts = tokenizer_cache.planning_tokenizer(folder)
    assert tokenizer_cache.load_snapshot(folder) is not None  # the next plan reads this
    assert facts["layers"] == 3
    assert_same(AutoTokenizer.from_pretrained(str(folder)), planning)


def test_gguf_facts_come_from_the_header_as_transformers_maps_them(tmp_path: Path) -> None:
    # SmolLM2-135M: 30 blocks, 8192 positions (its config as transformers reads the GGUF)
    assert tokenizer_cache.gguf_facts(gguf_path()) == {"context": 8192, "layers": 30}
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"NOPE" + bytes(64))
    assert tokenizer_cache.gguf_facts(not_gguf) is None
    truncated = tmp_path / "cut.gguf"
    with gguf_path().open("rb") as fh:
        truncated.write_bytes(fh.read(40))
    assert tokenizer_cache.gguf_facts(truncated) is None


def test_a_hub_model_loaded_from_the_cache_leaves_its_snapshot_where_plans_look(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    repo = tmp_path / "hub" / "models--org--tiny"
    folder = repo / "snapshots" / "abc123"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "special_tokens_map.json").write_text(
        json.dumps(embedded_tokenizer().special_tokens_map)
    )  # not readable directly: the backend keeps a snapshot
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    load = "from listrank.backends.hf import HFBackend; HFBackend('org/tiny', device='cpu')"
    repo_root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", load], env=env, cwd=repo_root, check=True, timeout=300)
    found = tokenizer_cache.load_snapshot(folder)
    assert found is not None and found[1]["layers"] == 2
