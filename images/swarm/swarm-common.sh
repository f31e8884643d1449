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

# ---- One worker (swarm-up.sh makes WORKERS of them; swarm-worker.sh one more, for a test) --------
# Every worker's engine also listens on tcp://<its address>:2376 with TLS (--tlsverify: client
# certificates of the swarm's own CA in $STATE_DIR/tls), so that it can be driven as a remote
# engine is (DOCKER_HOST=tcp://… DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$STATE_DIR/tls/client).
readonly TLS_DIR="$STATE_DIR/tls"
readonly TLS_PORT=2376

# ensure_tls: a CA, and a client certificate and key, made once (openssl).
ensure_tls() {
  [ -s "$TLS_DIR/client/key.pem" ] && return 0
  mkdir -p "$TLS_DIR/client"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=envbox-swarm-ca" \
    -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=envbox-client" \
    -keyout "$TLS_DIR/client/key.pem" -out "$TLS_DIR/client/client.csr" 2>/dev/null
  printf 'extendedKeyUsage = clientAuth\n' >"$TLS_DIR/client/ext.cnf"
  openssl x509 -req -days 3650 -in "$TLS_DIR/client/client.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" \
    -CAcreateserial -extfile "$TLS_DIR/client/ext.cnf" -out "$TLS_DIR/client/cert.pem" 2>/dev/null
  cp "$TLS_DIR/ca.pem" "$TLS_DIR/client/ca.pem"
  rm -f "$TLS_DIR/client/client.csr" "$TLS_DIR/client/ext.cnf"
}

# worker_tls I: the server certificate of worker I (for its address), made once.
worker_tls() {
  local dir="$STATE_DIR/$(worker_name "$1")/tls" addr
  addr="$(worker_subnet "$1").2"
  [ -s "$dir/server-key.pem" ] && return 0
  mkdir -p "$dir"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$(worker_name "$1")" -keyout "$dir/server-key.pem" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName = IP:%s,DNS:%s\nextendedKeyUsage = serverAuth\n' "$addr" "$(worker_name "$1")" >"$dir/ext.cnf"
  openssl x509 -req -days 3650 -in "$dir/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" \
    -CAcreateserial -extfile "$dir/ext.cnf" -out "$dir/server-cert.pem" 2>/dev/null
  rm -f "$dir/server.csr" "$dir/ext.cnf"
}

# worker_netns I: the network namespace and veth pair of worker I: 192.168.<base+I>.1 on the host, .2 inside.
worker_netns() {
  local ns host_if net
  ns="$(worker_name "$1")"; host_if="$(host_veth "$1")"; net="$(worker_subnet "$1")"
  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! ip link show "$host_if" >/dev/null 2>&1; then
    ip link add "$host_if" type veth peer name eth0 netns "$ns"
    ip addr add "$net.1/24" dev "$host_if"
    ip link set "$host_if" up
    ip -n "$ns" addr add "$net.2/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$net.1"
  fi
}

# worker_engine I: worker I's dockerd (hardening defaults in its daemon.json; unix socket and
# tcp+TLS), restarted when its config changed, started when not answering.
worker_engine() {
  local ns dir sock config restart tls
  ns="$(worker_name "$1")"; dir="$STATE_DIR/$ns"; sock="$(worker_socket "$1")"; tls="$dir/tls"
  mkdir -p "$dir/data" "$dir/exec"
  ensure_tls
  worker_tls "$1"
  config="$(printf '{\n  "seccomp-profile": "%s",\n  "no-new-privileges": true,\n  "tlsverify": true,\n  "tlscacert": "%s",\n  "tlscert": "%s",\n  "tlskey": "%s"\n}\n' \
    "$SECCOMP_PROFILE" "$TLS_DIR/ca.pem" "$tls/server-cert.pem" "$tls/server-key.pem")"
  restart=false
  if [ "$(cat "$dir/daemon.json" 2>/dev/null || true)" != "$config" ]; then
    printf '%s' "$config" >"$dir/daemon.json"; restart=true
  fi
  if [ "$restart" = true ] && [ -s "$dir/dockerd.pid" ] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null; then
    # The daemon config (seccomp-profile, no-new-privileges, TLS) is read at start only; SIGHUP does not reload it.
    stop_worker "$1"
  fi
  if ! docker -H "unix://$sock" info >/dev/null 2>&1; then
    # nsenter + unshare --uts, not `ip netns exec`: that remounts /sys and dockerd then fails
    # "Devices cgroup isn't mounted" (FIELD_NOTES). The hostname names the swarm node.
    setsid nsenter --net="/run/netns/$ns" unshare --uts sh -c \
      "hostname $ns && exec dockerd --data-root '$dir/data' --exec-root '$dir/exec' --pidfile '$dir/dockerd.pid' \
        -H 'unix://$sock' -H 'tcp://$(worker_subnet "$1").2:$TLS_PORT' --config-file '$dir/daemon.json' --cgroup-parent '$ns'" \
      >>"$dir/dockerd.log" 2>&1 </dev/null &
    wait_for "dockerd of $ns" 30 docker -H "unix://$sock" info || { tail -n 20 "$dir/dockerd.log" >&2; exit 1; }
  fi
}

# worker_join I TOKEN MANAGER: join worker I to the swarm as a worker, unless it is in one.
worker_join() {
  local sock; sock="$(worker_socket "$1")"
  if [ "$(docker -H "unix://$sock" info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    docker -H "unix://$sock" swarm join --token "$2" --advertise-addr "$(worker_subnet "$1").2" "$3" >/dev/null
  fi
}

# worker_ready I: wait until the manager lists worker I as ready and active.
worker_ready() {
  local ns; ns="$(worker_name "$1")"
  wait_for "node $ns Ready" 30 sh -c "[ \"\$(docker node inspect --format '{{.Status.State}} {{.Spec.Availability}}' $ns 2>/dev/null)\" = 'ready active' ]" \
    || die "node $ns did not become ready: $(docker node ls 2>&1)"
}

# worker_remove I: stop worker I's dockerd, remove its netns, veth and state, and forget its node.
worker_remove() {
  local ns dir; ns="$(worker_name "$1")"; dir="$STATE_DIR/$ns"
  worker_sshd_stop "$1"
  stop_worker "$1"
  if [ -d "$dir" ]; then
    # dockerd's exec root keeps netns bind mounts (0-byte files) that outlive it.
    { grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
    rm -rf "$dir"
  fi
  ip link del "$(host_veth "$1")" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  if docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null | grep -q true; then
    docker node rm --force "$ns" >/dev/null 2>&1 || true
  fi
}

# worker_sshd I: an sshd in worker I's namespace on <its address>:22, so that its engine can be
# driven over ssh:// as dockerode does it (ssh2, then `docker system dial-stdio` on the far side):
# root by key only, and that key may run nothing but dial-stdio to worker I's engine (a forced
# command). The client key is $STATE_DIR/ssh/id_ed25519. Skipped when sshd is not installed.
worker_sshd() {
  local ns dir sock keys addr
  command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || return 0
  ns="$(worker_name "$1")"; dir="$STATE_DIR/$ns/ssh"; sock="$(worker_socket "$1")"; keys="$STATE_DIR/ssh"; addr="$(worker_subnet "$1").2"
  if [ -s "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then return 0; fi
  mkdir -p "$dir" "$keys" /run/sshd
  [ -s "$keys/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C envbox-swarm -f "$keys/id_ed25519"
  [ -s "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$ns" -f "$dir/host_ed25519"
  printf 'command="exec docker -H unix://%s system dial-stdio",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n' \
    "$sock" "$(cat "$keys/id_ed25519.pub")" >"$dir/authorized_keys"
  cat >"$dir/sshd_config" <<CONFIG
ListenAddress $addr:22
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin forced-commands-only
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
CONFIG
  nsenter --net="/run/netns/$ns" "$(command -v sshd || echo /usr/sbin/sshd)" -f "$dir/sshd_config" -E "$dir/sshd.log"
  wait_for "sshd of $ns" 10 test -s "$dir/sshd.pid"
}

# worker_sshd_stop I: stop worker I's sshd.
worker_sshd_stop() {
  local pid="$STATE_DIR/$(worker_name "$1")/ssh/sshd.pid"
  [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
}
