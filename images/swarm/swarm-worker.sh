#!/usr/bin/env bash
# One more swarm worker, beside those of swarm-up.sh, for a test that must stop a node's engine
# without disturbing the others (test/serial/engine-stopped.test.ts):
#   swarm-worker.sh up I [LABEL=VALUE ...]   worker I (its netns, dockerd with the hardening
#                                            defaults and tcp+TLS, joined, the swarm's appliance
#                                            image loaded, ready, labelled); idempotent
#   swarm-worker.sh stop I                   stop worker I's dockerd (TERM: its containers stop
#                                            with it), as a machine losing its engine would
#   swarm-worker.sh partition I              cut worker I off the network (its side of the veth
#                                            down: packets to it vanish, nothing is refused): its
#                                            engine and containers run on, unreachable
#   swarm-worker.sh heal I                   reconnect it, and wait until the manager lists it ready
#   swarm-worker.sh down I                   remove worker I and forget its node
# Needs root and a swarm from swarm-up.sh (I must not be one of its workers).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=images/swarm/swarm-common.sh
. "$here/swarm-common.sh"

usage() { echo "usage: $0 up|stop|partition|heal|down I [LABEL=VALUE ...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
command="$1"; i="$2"; shift 2
[[ "$i" =~ ^[1-9][0-9]?$ ]] || usage
[ "$(id -u)" = 0 ] || die "needs root (network namespaces and a dockerd per worker)"
ns="$(worker_name "$i")"

case "$command" in
  up)
    [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] || die "this engine is no swarm manager; run make swarm-up first"
    image_id="$(cat "$STATE_DIR/image-id" 2>/dev/null)" || die "no $STATE_DIR/image-id; run make swarm-up first"
    worker_netns "$i"
    worker_engine "$i"
    worker_join "$i" "$(docker swarm join-token -q worker)" "$(docker info --format '{{(index .Swarm.RemoteManagers 0).Addr}}')"
    sock="$(worker_socket "$i")"
    if [ "$(docker -H "unix://$sock" image inspect --format '{{.Id}}' "$image_id" 2>/dev/null || true)" != "$image_id" ]; then
      docker save "$image_id" | docker -H "unix://$sock" load -q >/dev/null
    fi
    worker_ready "$i"
    for label in "$@"; do docker node update --label-add "$label" "$ns" >/dev/null; done
    echo "swarm-worker: $ns ready at $(worker_subnet "$i").2"
    ;;
  stop) stop_worker "$i"; echo "swarm-worker: the engine of $ns stopped" ;;
  partition) ip -n "$ns" link set eth0 down; echo "swarm-worker: $ns cut off the network" ;;
  heal)
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route replace default via "$(worker_subnet "$i").1"
    wait_for "node $ns ready again" 60 sh -c "[ \"\$(docker node inspect --format '{{.Status.State}}' $ns 2>/dev/null)\" = ready ]" \
      || die "node $ns is not ready again: $(docker node ls 2>&1)"
    echo "swarm-worker: $ns reconnected and ready"
    ;;
  down) worker_remove "$i"; echo "swarm-worker: $ns removed" ;;
  *) usage ;;
esac
