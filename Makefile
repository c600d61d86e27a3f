# Every target creates .venv itself on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Test workers (pytest-xdist): one per core, at most 8; `make test TEST_JOBS=0` runs serially.
TEST_JOBS ?= auto

.PHONY: demo test docs bench screenshots clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(VENV)/bin/fragility-dashboard

test: $(STAMP)
	$(PY) -m pytest --numprocesses $(TEST_JOBS) --maxprocesses 8 --dist loadgroup

# The docs site, offline, into site/; any warning fails the build.
docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

screenshots: $(STAMP)
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) build site *.egg-info
