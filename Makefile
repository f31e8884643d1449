# envbox: `make install` then `make run` (serve an environment) or `make test`.
ENV ?= coding_env
PYTHON_BACKEND ?= process
PORT ?= 8000
HOST ?= 127.0.0.1
NODE_MAJOR_MIN := 20

.PHONY: install build test run bench clean check-node system-packages

# Debian packages the sandboxes use: the system CPython and bubblewrap (per-episode namespaces).
SYSTEM_PACKAGES := python3 bubblewrap

check-node:
	@node -e 'const m = Number(process.versions.node.split(".")[0]); if (m < $(NODE_MAJOR_MIN)) { console.error("envbox needs Node >= $(NODE_MAJOR_MIN), found " + process.version); process.exit(1) }'

## install: system packages (as root, where missing), dependencies from the lockfile, then build
install: check-node system-packages
	npm ci --no-audit --no-fund
	$(MAKE) build

system-packages:
	@if [ -x /usr/bin/python3 ] && command -v bwrap >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) || \
	  { apt-get update -qq && apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES); }; \
	else \
	  echo "warning: install $(SYSTEM_PACKAGES) (e.g. sudo apt-get install $(SYSTEM_PACKAGES)); without bubblewrap sandboxes run without namespaces"; \
	fi

## build: compile TypeScript to dist/
build:
	npm run build

## test: type-check everything (tests included), then run the tap suite against real servers
test: build
	npx tsc -p tsconfig.json --noEmit
	npx tap

## run: serve $(ENV) on $(HOST):$(PORT) (Python episodes in the $(PYTHON_BACKEND) sandbox)
run: build
	node dist/cli.js serve --env $(ENV) --port $(PORT) --host $(HOST) --python-backend $(PYTHON_BACKEND)

## bench: latency and throughput of $(ENV) over HTTP keep-alive and WebSocket; coding_env on both
## Python backends (bench entries coding_env and coding_env_pyodide). Every entry runs, even after
## a failed one; the exit status is non-zero when any harness failed (a missed target is no failure).
BENCH_RUNS = $(if $(filter coding_env,$(ENV)),coding_env coding_env_pyodide coding_env_javascript,$(ENV))
bench: build
	@status=0; for env in $(BENCH_RUNS); do \
	  echo "node dist/bench/run.js --env $$env"; node dist/bench/run.js --env $$env || status=1; \
	done; exit $$status

clean:
	rm -rf dist .tap coverage
