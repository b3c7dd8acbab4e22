# gqcnn-ros2: `make demo` and `make test` work on a fresh machine (they bootstrap first).
SHELL := /bin/bash
ENV := source env.sh
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean docker docker-test docker-demo
setup:
	@bash scripts/bootstrap.sh

demo: setup
	@$(ENV) && python scripts/demo.py

test: setup
	@$(ENV) && ruff check . && python -m pytest test $(PYTEST_ARGS)

lint: setup
	@$(ENV) && ruff check . && ruff format --check .

# CPU Docker image (Dockerfile): the build runs the bootstrap; the tests and the demo run inside it.
DOCKER_IMAGE ?= gqcnn-ros2
docker:
	docker build -t $(DOCKER_IMAGE) .

docker-test: docker
	docker run --rm $(DOCKER_IMAGE) make test

docker-demo: docker
	docker run --rm $(DOCKER_IMAGE)

clean:
	rm -rf build install log
