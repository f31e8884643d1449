#!/usr/bin/env bash
# Undo swarm-up.sh: remove the envbox services, stop the worker dockerds, leave the swarm on the
# manager (this engine keeps running, its plain containers untouched), and remove the leftovers
# FIELD_NOTES lists: the docker_gwbridge network, the workers' netns files, the /run/netns mounts
# and veths, and the workers' state directories. Idempotent; safe when nothing is up.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=images/swarm/swarm-common.sh
. "$here/swarm-common.sh"

[ "$(id -u)" = 0 ] || die "needs root"
started=$SECONDS
if docker info >/dev/null 2>&1 && [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
  services="$(docker service ls -q --filter label=envbox.managed=true 2>/dev/null || true)"
  # shellcheck disable=SC2086
  [ -z "$services" ] || docker service rm $services >/dev/null || true
  docker swarm leave --force >/dev/null || true
  docker network rm docker_gwbridge >/dev/null 2>&1 || true
fi

# Workers up to 99 (ENVBOX_SWARM_WORKERS may have been larger at swarm-up time): whatever exists.
for dir in "$STATE_DIR"/envbox-w*; do
  [ -d "$dir" ] || continue
  worker_remove "${dir##*/envbox-w}"
done
for ns in $(ip netns list 2>/dev/null | awk '/^envbox-w[0-9]+/ {print $1}'); do
  ip link del "$ns" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
done
rm -f "$STATE_DIR"/image.*.tar "$STATE_DIR/image-id"
rm -rf "$TLS_DIR" "$STATE_DIR/ssh"
rmdir "$STATE_DIR" 2>/dev/null || true
echo "swarm-down: done in $((SECONDS - started)) s"
