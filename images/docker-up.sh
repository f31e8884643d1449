#!/usr/bin/env bash
# Makes a Docker engine answer `docker info`, for hosts without systemd (CI runners, VMs):
#   1. installs Debian's docker.io with apt when dockerd is missing (needs root);
#   2. registers gVisor's runsc as the runtime "runsc" in /etc/docker/daemon.json when a runsc
#      binary is on PATH (it is never installed here);
#   3. starts dockerd in the background (setsid, log in $ENVBOX_DOCKERD_LOG) when `docker info`
#      fails, and waits for it at most $ENVBOX_DOCKER_WAIT_S seconds.
# Exits non-zero, saying why, when no engine answers in the end.
# Environment (optional): ENVBOX_DOCKERD_LOG (default /var/log/envbox-dockerd.log),
#                         ENVBOX_DOCKER_WAIT_S (default 30).
set -euo pipefail

readonly DEFAULT_LOG='/var/log/envbox-dockerd.log'
readonly DEFAULT_WAIT_S=30
readonly DAEMON_JSON='/etc/docker/daemon.json'
readonly PID_FILE='/var/run/docker.pid'

log_file="${ENVBOX_DOCKERD_LOG:-$DEFAULT_LOG}"
wait_s="${ENVBOX_DOCKER_WAIT_S:-$DEFAULT_WAIT_S}"
[[ "$wait_s" =~ ^[0-9]+$ ]] || { echo "docker-up: ENVBOX_DOCKER_WAIT_S must be a whole number of seconds, got '$wait_s'" >&2; exit 2; }

die() { echo "docker-up: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

if ! command -v dockerd >/dev/null; then
  is_root || die "dockerd is missing and installing it needs root; run: sudo apt-get install docker.io (or rerun as root)"
  command -v apt-get >/dev/null || die "dockerd is missing and apt-get is not available; install Docker Engine for this system"
  echo "docker-up: installing docker.io with apt"
  # The cached package lists may be stale or absent (slim images); refresh only when needed.
  apt-get install -y --no-install-recommends docker.io \
    || { apt-get update -qq && apt-get install -y --no-install-recommends docker.io; } \
    || die "apt-get install docker.io failed"
fi

# gVisor: register runsc, with --network=host because its own network stack could not set up
# the container's network here (see ../shared/FIELD_NOTES.md, Docker); the container still has
# its own network namespace.
config_changed=false
if runsc_path="$(command -v runsc)"; then
  is_root || die "runsc found at $runsc_path, but registering it in $DAEMON_JSON needs root"
  mkdir -p "$(dirname "$DAEMON_JSON")"
  before="$(cat "$DAEMON_JSON" 2>/dev/null || true)"
  # node, not jq: Node is what envbox needs anyway. Other settings in daemon.json are kept.
  RUNSC_PATH="$runsc_path" CONFIG_FILE="$DAEMON_JSON" node -e '
    const fs = require("node:fs");
    const file = process.env.CONFIG_FILE;
    let config = {};
    try { config = JSON.parse(fs.readFileSync(file, "utf8")); } catch (error) {
      if (error.code !== "ENOENT") { console.error(`docker-up: ${file} is not valid JSON (${error.message}); fix or remove it`); process.exit(1); }
    }
    config.runtimes = { ...config.runtimes, runsc: { path: process.env.RUNSC_PATH, runtimeArgs: ["--network=host"] } };
    fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
  '
  [ "$before" = "$(cat "$DAEMON_JSON")" ] || { config_changed=true; echo "docker-up: registered runtime runsc ($runsc_path) in $DAEMON_JSON"; }
fi

if docker info >/dev/null 2>&1; then
  if [ "$config_changed" = true ]; then
    # Runtimes are reloadable: SIGHUP makes a running dockerd read daemon.json again.
    [ -s "$PID_FILE" ] || die "dockerd runs but $PID_FILE is missing; restart dockerd to load $DAEMON_JSON"
    kill -HUP "$(cat "$PID_FILE")"
    sleep 1
  fi
else
  is_root || die "no Docker engine answers 'docker info' and starting dockerd needs root (or add your user to the docker group if one runs)"
  if [ -s "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "docker-up: dockerd (pid $(cat "$PID_FILE")) runs but does not answer yet; waiting"
  else
    mkdir -p "$(dirname "$log_file")"
    echo "docker-up: starting dockerd (log: $log_file)"
    setsid dockerd >>"$log_file" 2>&1 </dev/null &
  fi
  deadline=$((SECONDS + wait_s))
  until docker info >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$log_file" >&2 2>/dev/null || true
      die "dockerd did not answer 'docker info' within ${wait_s} s; see $log_file"
    fi
    sleep 0.2
  done
fi

if [ -n "${runsc_path:-}" ]; then
  docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' \
    || die "runsc is in $DAEMON_JSON but dockerd does not list it; restart dockerd"
fi
echo "docker-up: $(docker version --format 'engine {{.Server.Version}}, client {{.Client.Version}}') ($(docker info --format '{{.DefaultRuntime}}') default runtime; runtimes: $(docker info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}'))"
