# The two set-up commands of the README: `make demo` and `make test`; `make report` writes the
# report page of each shipped run to reports/<run>/report.html.
PY := .venv/bin/python

.PHONY: demo report test lint bench docs
demo:
	scripts/install.sh
	$(PY) examples/demo.py --out figures

report:
	scripts/install.sh
	$(PY) examples/report.py --out reports

test:
	scripts/install.sh test,ray,tracking,docs,notebooks
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench:
	$(PY) benchmarks/ensemble_speed.py

docs:
	scripts/install.sh docs
	$(PY) scripts/cli_docs.py --check
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict
