# envbox: `make install` then `make run` (serve an environment) or `make test`.
ENV ?= echo_env
PORT ?= 8000
HOST ?= 127.0.0.1
NODE_MAJOR_MIN := 20

.PHONY: install build test run bench clean check-node

check-node:
	@node -e 'const m = Number(process.versions.node.split(".")[0]); if (m < $(NODE_MAJOR_MIN)) { console.error("envbox needs Node >= $(NODE_MAJOR_MIN), found " + process.version); process.exit(1) }'

## install: dependencies from the lockfile, then build
install: check-node
	npm ci --no-audit --no-fund
	$(MAKE) build

## build: compile TypeScript to dist/
build:
	npm run build

## test: type-check everything (tests included), then run the tap suite against real servers
test: build
	npx tsc -p tsconfig.json --noEmit
	npx tap

## run: serve $(ENV) on $(HOST):$(PORT)
run: build
	node dist/cli.js serve --env $(ENV) --port $(PORT) --host $(HOST)

## bench: latency and throughput of $(ENV) over HTTP keep-alive and WebSocket
bench: build
	node dist/bench/run.js --env $(ENV)

clean:
	rm -rf dist .tap coverage
