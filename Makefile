# Two commands on a fresh machine: `make demo` (end to end on built-in data) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
EXTRAS ?= dev,parquet,onnx,explain,serve,monitor,lora,tune,clean,dask
DEMO_DATA := data/movie-snippets
DEMO_MODEL := models/movie-snippets
NEWS_DATA := data/news-snippets
NEWS_MODEL := models/news-snippets-head
NEWS_ONNX := models/news-snippets-int8
MONITOR_DEMO := demo-monitor
MONITOR_DB := sqlite:///$(MONITOR_DEMO)/monitor.db

.PHONY: install demo demo-monitor test lint bench clean

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

# The stream monitor on a simulated news feed: real held-out NYT editorial sentences, simulated timestamps and
# sources, and a negative surge planted on one source (textsift.monitor.demo). The model, its data and its int8
# export are built once (file targets); the stream, the store and the receiver are made afresh on every run.
# Fails unless an alert for the planted surge reaches the local webhook receiver.
demo-monitor: $(NEWS_ONNX)/textsift.json
	rm -rf $(MONITOR_DEMO) && mkdir -p $(MONITOR_DEMO)
	$(PY) scripts/demo_monitor.py stream $(NEWS_DATA)/test.csv $(MONITOR_DEMO)/stream.jsonl
	$(BIN)/textsift monitor init --db $(MONITOR_DB)
	$(PY) scripts/webhook_receiver.py --out $(MONITOR_DEMO)/webhook.jsonl --port-file $(MONITOR_DEMO)/receiver.port \
		--pid-file $(MONITOR_DEMO)/receiver.pid --timeout 900
	$(BIN)/textsift monitor rules add "share(negative) > baseline + 3 sigma over 1h, min 20, source wire" \
		--db $(MONITOR_DB) --webhook http://127.0.0.1:$$(cat $(MONITOR_DEMO)/receiver.port)/hook
	$(BIN)/textsift monitor rules add "share(negative) > baseline by cusum(k=0.5, h=5) over 1h, min 20" \
		--db $(MONITOR_DB)
	$(BIN)/textsift monitor replay $(NEWS_ONNX) $(MONITOR_DEMO)/stream.jsonl --db $(MONITOR_DB) --speed 0
	$(BIN)/textsift monitor alerts --db $(MONITOR_DB) --since 1h
	$(BIN)/textsift monitor report --db $(MONITOR_DB) --since 7d --out $(MONITOR_DEMO)/report.html
	kill $$(cat $(MONITOR_DEMO)/receiver.pid)
	$(PY) scripts/demo_monitor.py check $(MONITOR_DEMO)/stream.plan.json $(MONITOR_DEMO)/webhook.jsonl

$(NEWS_DATA)/test.csv: | install
	$(BIN)/textsift data fetch news-snippets --out $(NEWS_DATA)

$(NEWS_MODEL)/textsift.json: $(NEWS_DATA)/test.csv
	$(BIN)/textsift train $(NEWS_DATA)/train.csv --validation $(NEWS_DATA)/validation.csv --out $(NEWS_MODEL) \
		--strategy head

$(NEWS_ONNX)/textsift.json: $(NEWS_MODEL)/textsift.json
	rm -rf $(NEWS_ONNX)
	$(BIN)/textsift export $(NEWS_MODEL) --out $(NEWS_ONNX) --quantize int8 --validate $(NEWS_DATA)/validation.csv

test: install
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/mypy
	$(PY) -m pytest -q --durations=15

lint: install
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
