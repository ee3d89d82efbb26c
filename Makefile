# Saccader companion: `make book` runs the embedded default end to end and builds the book;
# `make test` runs the test suite (what CI runs). Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PRESET ?= tiny
BOOK_ARGS ?=
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_mathjax/mathjax/tex-chtml.js
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: all setup book test nbval chromium clean
all: book

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[book,test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# MathJax 3 served from the book itself, so equations render offline.
$(MATHJAX):
	npm install --silent --no-audit --no-fund --prefix build/npm mathjax@$(MATHJAX_VERSION)
	mkdir -p book/_mathjax/mathjax/output/chtml book/_mathjax/mathjax/input/tex
	cp build/npm/node_modules/mathjax/es5/tex-chtml.js book/_mathjax/mathjax/
	cp -r build/npm/node_modules/mathjax/es5/output/chtml/fonts book/_mathjax/mathjax/output/chtml/
	cp -r build/npm/node_modules/mathjax/es5/input/tex/extensions book/_mathjax/mathjax/input/tex/

setup: $(STAMP) $(MATHJAX)

book: setup
	$(BIN)/python -m saccader book --preset $(PRESET) $(BOOK_ARGS)

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The suite builds the book once (tests/test_book.py: every notebook run by papermill, errors fail it)
# and opens it in Chromium; `make nbval` runs the notebooks in place once more with nbval.
test: setup chromium
	$(BIN)/python -m pytest -q tests

nbval: setup
	$(BIN)/python -m pytest -q book --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg

clean:
	rm -rf build book/_build
