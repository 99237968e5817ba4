#!/usr/bin/env bash
# Build the local base image s2s-base:bookworm from Debian packages, for machines that cannot pull images.
#
# It stands in for python:3.11-slim-bookworm: Debian bookworm (minbase, like debian:bookworm-slim), Python 3.11,
# and a virtual environment at /opt/venv first on PATH, so `python3`, `python3 -m pip` and console scripts behave
# as in the official image (pip installs into the venv; Debian's own Python stays untouched, as PEP 668 wants).
#
#   sudo docker/base/build-base.sh            # needs root (debootstrap) and a running Docker engine
#
# Environment:
#   S2S_BASE_IMAGE               tag to build (default s2s-base:bookworm)
#   S2S_DEBIAN_MIRROR            Debian mirror (default: the one this machine's apt sources use for bookworm)
#   S2S_DEBIAN_SECURITY_MIRROR   security mirror (default: this machine's, else http://deb.debian.org/debian-security)
set -euo pipefail

IMAGE=${S2S_BASE_IMAGE:-s2s-base:bookworm}
SUITE=bookworm

# The first enabled "deb" source for a suite, from one-line (*.list) and deb822 (*.sources) apt sources.
apt_source_for() {
  local suite=$1 file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    awk -v suite="$suite" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" } {
        types = uris = suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          split($i, kv, /:[ \t]*/)
          key = tolower(kv[1]); value = substr($i, length(kv[1]) + 2); sub(/^[ \t]+/, "", value)
          if (key == "types") types = value
          else if (key == "uris") uris = value
          else if (key == "suites") suites = value
          else if (key == "enabled") enabled = tolower(value)
        }
        if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ")) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$file"
  done
}

first_or() { local found; found=$(head -n 1); echo "${found:-$1}"; }

MIRROR=${S2S_DEBIAN_MIRROR:-$(apt_source_for "$SUITE" | first_or http://deb.debian.org/debian)}
SECURITY_MIRROR=${S2S_DEBIAN_SECURITY_MIRROR:-$(apt_source_for "$SUITE-security" | first_or http://deb.debian.org/debian-security)}

if [ "$(id -u)" != 0 ]; then
  echo "build-base: debootstrap needs root: run it with sudo" >&2
  exit 2
fi
for tool in debootstrap docker tar; do
  command -v "$tool" >/dev/null || { echo "build-base: $tool is missing (apt-get install debootstrap docker.io)" >&2; exit 2; }
done

# Not /tmp: it may be a tmpfs mounted nodev, where debootstrap cannot create /dev entries.
workdir=$(mktemp -d "${S2S_BUILD_TMPDIR:-/var/tmp}/s2s-base.XXXXXX")
trap 'rm -rf --one-file-system "$workdir"' EXIT
rootfs=$workdir/rootfs

echo "build-base: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  "$SUITE" "$rootfs" "$MIRROR" >"$workdir/debootstrap.log" 2>&1 || {
  tail -n 30 "$workdir/debootstrap.log" >&2
  echo "build-base: debootstrap failed (full log above was $workdir/debootstrap.log)" >&2
  exit 1
}

# Later `apt-get install` in the Dockerfile gets point releases and security fixes, as in debian:bookworm.
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES

chroot "$rootfs" /usr/bin/python3 -m venv /opt/venv
chroot "$rootfs" /opt/venv/bin/python3 -m pip --version

# Keep the image small: no downloaded .debs, no package lists (the Dockerfile runs apt-get update first).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV VIRTUAL_ENV=/opt/venv' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null
echo "build-base: built $IMAGE ($(docker run --rm "$IMAGE" python3 --version))"
