# envbox: `make install` then `make run` (serve an environment) or `make test`.
ENV ?= coding_env
PYTHON_BACKEND ?= auto
PORT ?= 8000
HOST ?= 127.0.0.1
NODE_MAJOR_MIN := 20

.PHONY: install build test test-loaded imports run bench soak clean check-node system-packages browser \
	docker-up base-image image run-docker test-docker docker-clean swarm-up swarm-down bench-scale

# Debian packages the sandboxes use: the system CPython and bubblewrap (per-episode namespaces).
SYSTEM_PACKAGES := python3 bubblewrap

check-node:
	@node -e 'const m = Number(process.versions.node.split(".")[0]); if (m < $(NODE_MAJOR_MIN)) { console.error("envbox needs Node >= $(NODE_MAJOR_MIN), found " + process.version); process.exit(1) }'

## install: system packages (as root, where missing), dependencies from the lockfile, then build
install: check-node system-packages browser
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

# Debian's chromium for the web interface's browser tests (never a downloaded browser); without it
# those tests skip, saying why. A failure here (no root, no mirror) does not stop the install.
browser:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y --no-install-recommends chromium || \
	  { apt-get update -qq && apt-get install -y --no-install-recommends chromium; } || \
	  echo "warning: could not install chromium; the web interface browser tests will skip"; \
	else \
	  echo "warning: install chromium (e.g. sudo apt-get install chromium) to run the web interface browser tests"; \
	fi

## build: compile TypeScript to dist/
build:
	npm run build

## test: type-check everything (tests included), then run the tap suite against real servers, then
## one at a time the tests that disturb what others share or that load the machine (*.serial.ts:
## a swarm node whose engine stops, the escape corpus against swarm appliances)
test: build imports
	npx tsc -p tsconfig.json --noEmit
	npx tap
	npx tap --jobs=1 test/serial/*.serial.ts test/security/*.serial.ts

## imports: the layers' import rules (.dependency-cruiser.cjs; docs/ARCHITECTURE.md): each violation named
imports:
	npx depcruise --config .dependency-cruiser.cjs cli.ts index.ts testing.ts version.ts protocol runtime sandbox client envs

## test-loaded: `make test` while LOAD_HOGS busy loops (default: one per core) share the CPU, so a
## machine about half as fast is simulated: no verdict may depend on the machine's speed. The hogs
## are started by this target and killed when it ends, however it ends (an interrupted run stops the
## suite too, its whole process group: npm does not pass TERM on to tap): by its shell on exit, by
## the kernel if that shell dies (PR_SET_PDEATHSIG), and each stops by itself once make is gone.
LOAD_HOGS ?= $(shell nproc)
test-loaded:
	@hogs=""; suite=""; trap 'kill $$hogs 2>/dev/null; [ -z "$$suite" ] || kill -- -$$suite 2>/dev/null' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	for i in $$(seq $(LOAD_HOGS)); do \
	  setpriv --pdeathsig=KILL -- sh -c 'while kill -0 "$$1" 2>/dev/null; do i=0; while [ $$i -lt 100000 ]; do i=$$((i + 1)); done; done' hog $$PPID & \
	  hogs="$$hogs $$!"; \
	done; \
	echo "test-loaded: $(LOAD_HOGS) CPU hogs running (pids$$hogs)"; \
	started=$$(date +%s); status=0; \
	setsid $(MAKE) test & suite=$$!; wait $$suite || status=$$?; suite=""; \
	echo "test-loaded: make test exited $$status after $$(( $$(date +%s) - started )) s under load"; exit $$status

## run: serve $(ENV) on $(HOST):$(PORT) with the web interface at /web (Python episodes: PYTHON_BACKEND=$(PYTHON_BACKEND); auto picks process where /usr/bin/python3 can serve)
run: build
	node dist/cli.js serve --env $(ENV) --port $(PORT) --host $(HOST) $(if $(filter coding_env,$(ENV)),--python-backend $(PYTHON_BACKEND)) --web

## bench: latency and throughput of $(ENV) over HTTP keep-alive and WebSocket; coding_env on both
## Python backends (bench entries coding_env and coding_env_pyodide). Every entry runs, even after
## a failed one; the exit status is non-zero when any harness failed (a missed target is no failure).
BENCH_RUNS = $(if $(filter coding_env,$(ENV)),coding_env coding_env_cold coding_env_pyodide coding_env_javascript,$(ENV))
bench: build
	@status=0; for env in $(BENCH_RUNS); do \
	  echo "node dist/bench/run.js --env $$env"; node dist/bench/run.js --env $$env || status=1; \
	done; exit $$status

## soak: 10 minutes of mixed Python/JavaScript traffic from 32 sessions, hostile steps included,
## against coding_env (process backend, loopback); every observation checked; writes
## bench/results/soak.{json,md,png}. Knobs: SOAK_DURATION_S, SOAK_MAX_STEPS, SOAK_SESSIONS, SOAK_OUTPUT_DIR,
## SOAK_HOSTILE_COVER_ATTEMPTS (after the traffic, each hostile kind that never ran is sent up to this many times),
## SOAK_CROWD_SESSIONS and SOAK_CROWD_INTERVAL_S (the memory crowd: sessions filling memory at once, how many, how often)
soak: build
	node dist/bench/soak.js

clean:
	rm -rf dist .tap coverage

## ---- Docker appliance (images/README.md) -------------------------------------------------------
# Offline base (debootstrap + Node 22 from npm), the appliance tag, and `run-docker`'s limits.
OFFLINE_BASE_IMAGE := envbox/base:node22-bookworm
APPLIANCE_IMAGE ?= envbox/appliance:latest
DOCKER_CONTAINER ?= envbox-appliance
# The same caps as the TypeScript client's defaults (client/docker/hardened-host-config.ts).
DOCKER_MEMORY ?= 1g
DOCKER_CPUS ?= 1
DOCKER_PIDS_LIMIT ?= 512
DOCKER_TMPFS_SIZE ?= 64m
# Set RUNTIME=runsc to run the appliance under gVisor (registered by docker-up when runsc exists).
RUNTIME ?=
# An empty BASE_IMAGE means the offline base, built on demand by base-image.
BASE_IMAGE ?=

## docker-up: install docker.io (as root, when dockerd is missing) and start dockerd if none answers
docker-up:
	images/docker-up.sh

## base-image: build $(OFFLINE_BASE_IMAGE) without a registry (no-op when it exists; FORCE=1 rebuilds)
base-image:
	images/base/build-base.sh $(if $(FORCE),--force)

## image: build $(APPLIANCE_IMAGE) from $(BASE_IMAGE), or from the offline base when BASE_IMAGE is empty
image: build $(if $(BASE_IMAGE),,base-image)
	node dist/cli.js build-image --base-image $(or $(BASE_IMAGE),$(OFFLINE_BASE_IMAGE)) --tag $(APPLIANCE_IMAGE)

## run-docker: serve $(ENV) from the appliance on $(HOST):$(PORT), hardened (read-only root, no
## capabilities, images/seccomp.json so bubblewrap can create namespaces, resource caps)
run-docker:
	docker run --rm --name $(DOCKER_CONTAINER) --label envbox.managed=true \
	  --read-only --tmpfs /tmp:rw,noexec,nosuid,size=$(DOCKER_TMPFS_SIZE) \
	  --cap-drop ALL --security-opt no-new-privileges --security-opt seccomp=images/seccomp.json \
	  --pids-limit $(DOCKER_PIDS_LIMIT) --memory $(DOCKER_MEMORY) --memory-swap $(DOCKER_MEMORY) --cpus $(DOCKER_CPUS) \
	  --init $(if $(RUNTIME),--runtime $(RUNTIME)) -p $(HOST):$(PORT):8000 \
	  -e ENVBOX_PYTHON_BACKEND=$(PYTHON_BACKEND) \
	  $(APPLIANCE_IMAGE) --env $(ENV)

## test-docker: the Docker client tests against the real engine (they fail, not skip, without one)
test-docker: build
	ENVBOX_DOCKER_TESTS=required npx tap 'test/client/docker/**/*.test.ts'

## docker-clean: remove containers labelled envbox.managed=true and the envbox/* images
docker-clean:
	@containers="$$(docker ps -aq --filter label=envbox.managed=true)"; \
	if [ -n "$$containers" ]; then docker rm -f $$containers; fi
	@images="$$( { docker images -q --filter 'reference=envbox/*'; docker images -q --filter label=envbox.managed=true; } | sort -u)"; \
	if [ -n "$$images" ]; then docker rmi -f $$images; fi

## ---- Docker Swarm on this machine (images/swarm/; README "Many appliances") ---------------------
## swarm-up: this engine as a drained manager plus ENVBOX_SWARM_WORKERS (default 2) dockerds in
## their own network namespaces as workers, each with images/seccomp.json and no-new-privileges as
## daemon defaults and $(APPLIANCE_IMAGE) loaded, each engine also on tcp+TLS and behind an sshd in
## its namespace (remote-engine tests); idempotent (needs root, make docker-up and make image)
swarm-up:
	@if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "swarm-up: installing openssh-server (an sshd per worker, for the ssh:// engine tests; its service is not started)"; \
	  policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy=1; fi; \
	  apt-get install -y --no-install-recommends openssh-server >/dev/null || \
	  { apt-get update -qq && apt-get install -y --no-install-recommends openssh-server >/dev/null; } || \
	  echo "warning: openssh-server did not install; the ssh:// engine test will skip (or fail where required)"; \
	  [ -z "$$policy" ] || rm -f /usr/sbin/policy-rc.d; \
	fi
	APPLIANCE_IMAGE=$(APPLIANCE_IMAGE) images/swarm/swarm-up.sh

## bench-scale: EnvPool over 1, 2 and 4 Swarm appliances (after make swarm-up): start time, steps/s
## of a 128-episode Python and a 512-episode JavaScript batch; writes bench/results/scale.json
bench-scale: build
	node dist/bench/scale.js

## swarm-down: remove the envbox services, the workers and their namespaces, and leave the swarm
swarm-down:
	images/swarm/swarm-down.sh
