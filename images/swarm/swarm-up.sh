#!/usr/bin/env bash
# A real Docker Swarm on one machine (../../shared/FIELD_NOTES.md, "Docker Swarm on one machine"):
#   - this machine's engine is the manager (`docker swarm init`, advertised on a veth address), and
#     is drained, so that it keeps running everyone's plain containers but hosts no appliance task;
#   - ENVBOX_SWARM_WORKERS (default 2) more dockerds, each in its own network namespace
#     (`ip netns` + a veth pair), with its own data root, exec root, socket and hostname, joined
#     as workers. They host the appliances.
# Why workers and a drained manager: Swarm on Docker 20.10 (API 1.41) silently drops a service's
# seccomp profile and no-new-privileges, so a node that hosts appliances must have both as daemon
# defaults ("seccomp-profile": images/seccomp.json, "no-new-privileges": true), which needs a
# daemon restart. The workers start with that config; the main engine is never restarted.
# The appliance image is copied onto every worker with `docker save | docker load` (no registry);
# providers create services from the image ID.
# Idempotent: a run over a healthy swarm only checks it (and reloads a changed image).
# Needs root (network namespaces, dockerd). `images/swarm/swarm-down.sh` undoes everything.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=images/swarm/swarm-common.sh
. "$here/swarm-common.sh"

[ "$(id -u)" = 0 ] || die "needs root (network namespaces and a dockerd per worker)"
docker info >/dev/null 2>&1 || die "no Docker engine answers 'docker info'; run make docker-up first"
[ -r "$SECCOMP_PROFILE" ] || die "seccomp profile $SECCOMP_PROFILE is missing"
image_id="$(docker image inspect --format '{{.Id}}' "$APPLIANCE_IMAGE" 2>/dev/null)" \
  || die "image $APPLIANCE_IMAGE is not on the manager's engine; run make image first"
started=$SECONDS

# 1. One network namespace and veth pair per worker: 192.168.<base+i>.1 on the host, .2 inside.
for i in $(seq 1 "$WORKERS"); do worker_netns "$i"; done

# 2. The manager: this engine, advertised on the first worker's host-side address, then drained.
manager_addr="$(worker_subnet 1).1"
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr "$manager_addr" --listen-addr "$manager_addr:2377" >/dev/null
  echo "swarm-up: swarm initialised, manager on $manager_addr:2377"
fi
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || die "this engine is in a swarm but not a manager; run make swarm-down first"
docker node update --availability drain --label-add envbox.role=manager "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
join_token="$(docker swarm join-token -q worker)"
manager_join="$(docker info --format '{{(index .Swarm.RemoteManagers 0).Addr}}')"

# 3. The workers: a dockerd each with the hardening defaults (and tcp+TLS), started when not answering.
saved=""
cleanup_saved() { [ -z "$saved" ] || rm -f "$saved"; }
trap cleanup_saved EXIT
load_pids=()
for i in $(seq 1 "$WORKERS"); do
  worker_engine "$i"
  worker_sshd "$i"
  worker_join "$i" "$join_token" "$manager_join"
  sock="$(worker_socket "$i")"
  # The image, by ID: loaded when this worker lacks it (a new `make image` changes the ID).
  if [ "$(docker -H "unix://$sock" image inspect --format '{{.Id}}' "$image_id" 2>/dev/null || true)" != "$image_id" ]; then
    if [ -z "$saved" ]; then saved="$(mktemp "$STATE_DIR/image.XXXXXX.tar")"; docker save "$APPLIANCE_IMAGE" -o "$saved"; fi
    docker -H "unix://$sock" load -q -i "$saved" >/dev/null &
    load_pids+=("$!")
  fi
done
for pid in "${load_pids[@]}"; do wait "$pid" || die "docker load of $APPLIANCE_IMAGE on a worker failed"; done

# 4. Every worker Ready and active in the manager's list, labelled for placement constraints.
for i in $(seq 1 "$WORKERS"); do
  worker_ready "$i"
  docker node update --label-add envbox.role=appliance-host "$(worker_name "$i")" >/dev/null
done
# Nodes of earlier runs that are gone (a worker restarted with a fresh state) are forgotten.
for id in $(docker node ls --filter role=worker --format '{{.ID}} {{.Status}}' | awk '$2 == "Down" {print $1}'); do
  docker node rm --force "$id" >/dev/null 2>&1 || true
done
# What every worker has: the Swarm tests start services from this ID (the tag may move on). The
# image an earlier run loaded is removed from the workers (it fails harmlessly while a service uses it).
previous="$(cat "$STATE_DIR/image-id" 2>/dev/null || true)"
if [ -n "$previous" ] && [ "$previous" != "$image_id" ]; then
  for i in $(seq 1 "$WORKERS"); do docker -H "unix://$(worker_socket "$i")" rmi "$previous" >/dev/null 2>&1 || true; done
fi
printf '%s\n' "$image_id" >"$STATE_DIR/image-id"
echo "swarm-up: $WORKERS workers ready with $APPLIANCE_IMAGE ($image_id) in $((SECONDS - started)) s:"
docker node ls --format '  {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'
