# gqcnn-ros2: `make demo` and `make test` work on a fresh machine (they bootstrap first).
SHELL := /bin/bash
ENV := source env.sh
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean
setup:
	@bash scripts/bootstrap.sh

demo: setup
	@$(ENV) && python scripts/demo.py

test: setup
	@$(ENV) && ruff check . && python -m pytest test $(PYTEST_ARGS)

lint: setup
	@$(ENV) && ruff check . && ruff format --check .

clean:
	rm -rf build install log
