# Two commands on a fresh machine: `make demo` (end to end on built-in data) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
EXTRAS ?= dev,parquet,onnx,explain,serve
DEMO_DATA := data/movie-snippets
DEMO_MODEL := models/movie-snippets

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

demo: install
	$(BIN)/textsift data fetch movie-snippets --out $(DEMO_DATA)
	$(BIN)/textsift train $(DEMO_DATA)/train.csv --validation $(DEMO_DATA)/validation.csv --out $(DEMO_MODEL)
	$(BIN)/textsift evaluate $(DEMO_MODEL) $(DEMO_DATA)/test.csv
	printf 'a gripping, beautifully acted story\nthe plot is thin and the jokes fall flat\n' \
		| $(BIN)/textsift predict $(DEMO_MODEL) --top-k 2

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(PY) -m pytest -q --durations=15

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
