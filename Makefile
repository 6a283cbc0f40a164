# The two set-up commands of the README: `make demo` and `make test`.
PY := .venv/bin/python

.PHONY: demo test lint bench
demo:
	scripts/install.sh
	$(PY) examples/demo.py --out figures

test:
	scripts/install.sh test
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench:
	$(PY) benchmarks/ensemble_speed.py
