# Shared by swarm-up.sh and swarm-down.sh (sourced): names, paths and small helpers.
# Environment (optional): ENVBOX_SWARM_WORKERS (default 2), ENVBOX_SWARM_STATE_DIR
# (default /var/lib/envbox-swarm), APPLIANCE_IMAGE (default envbox/appliance:latest).

readonly WORKERS="${ENVBOX_SWARM_WORKERS:-2}"
readonly STATE_DIR="${ENVBOX_SWARM_STATE_DIR:-/var/lib/envbox-swarm}"
readonly APPLIANCE_IMAGE="${APPLIANCE_IMAGE:-envbox/appliance:latest}"
readonly SECCOMP_PROFILE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/seccomp.json"
# Worker i lives on 192.168.(212+i).0/24: FIELD_NOTES' 192.168.213.0/24 for the first.
readonly SUBNET_BASE=212

[[ "$WORKERS" =~ ^[1-9][0-9]?$ ]] || { echo "swarm: ENVBOX_SWARM_WORKERS must be 1..99, got '$WORKERS'" >&2; exit 2; }

die() { echo "swarm: $*" >&2; exit 1; }
worker_name() { echo "envbox-w$1"; }
host_veth() { echo "envbox-w$1"; }
worker_subnet() { echo "192.168.$((SUBNET_BASE + $1))"; }
worker_socket() { echo "$STATE_DIR/$(worker_name "$1")/docker.sock"; }

# wait_for WHAT SECONDS CMD...: run CMD until it succeeds, at most SECONDS (external state, no event).
wait_for() {
  local what="$1" limit="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "swarm: $what: not within $limit s" >&2; return 1; fi
    sleep 0.2
  done
}

# stop_worker I: TERM the worker's dockerd and wait until it is gone (KILL after 20 s).
stop_worker() {
  local dir="$STATE_DIR/$(worker_name "$1")" pid
  [ -s "$dir/dockerd.pid" ] || return 0
  pid="$(cat "$dir/dockerd.pid")"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  wait_for "dockerd $pid to stop" 20 sh -c "! kill -0 $pid" || { kill -KILL "$pid" 2>/dev/null || true; wait_for "dockerd $pid to die" 5 sh -c "! kill -0 $pid" || true; }
}
