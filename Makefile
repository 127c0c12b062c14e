# `make serve` and `make test` set everything up on first use (a .venv with the
# package, the docs and test tools, and KaTeX from npm), then serve or test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve test test-oldest build lighthouse linkcheck data setup clean

serve: setup  ## the site with live reload on http://127.0.0.1:8000/
	SITE_URL=http://127.0.0.1:8000/ $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

test: setup  ## every test: package, pages (both languages), docs_src scripts, workflows
	$(BIN)/pytest --durations=15

# The oldest PyTorch the book supports (pyproject: torch>=2.6), in a second environment.
OLDEST := .venv-oldest
test-oldest: $(OLDEST)/.installed node_modules/.package-lock.json  ## every page and unit test on torch 2.6.0
	$(OLDEST)/bin/pytest -p no:cacheprovider --ignore=tests/test_site.py --ignore=tests/test_browser.py

$(OLDEST)/.installed: pyproject.toml
	test -d $(OLDEST) || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet "torch==2.6.0" "torchvision==0.21.0" -e ".[test]"
	touch $@

build: setup  ## the site into site/, failing on any warning
	$(BIN)/mkdocs build --strict

lighthouse: build  ## Lighthouse (mobile) on the five heaviest pages, both languages: test-results/lighthouse.md
	$(BIN)/python tools/lighthouse.py site

linkcheck: build  ## request every outside link of the site (needs internet; CI only lists them)
	$(BIN)/python tools/check_external_links.py site --check

data: setup  ## download the full datasets and weights into $$PYTORCH_NOTES_DATA (default data/)
	$(BIN)/python -m pytorch_notes data

setup: $(VENV)/.installed node_modules/.package-lock.json

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

clean:
	rm -rf site .pytest_cache
