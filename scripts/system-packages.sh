#!/usr/bin/env bash
# The Debian packages the test suite needs, in one place. As root, install the missing ones; otherwise stop at
# once with the one apt-get line to run. Used by `make test` (and so by CI).
#   influxdb, nginx-light: a real InfluxDB (1.6) behind nginx speaking the v2 write API
#   libsndfile1, espeak-ng, sox: prompt audio (soundfile; regenerating the fixtures)
#   chromium: the web UI tests;  openssl: the TLS tests
#   docker.io, docker-compose, debootstrap: the deployment tests and the Docker smoke test (no registry here)
#   gcc, and python3-dev when $PYTHON has no Python.h: the compiled hot path (make unit-compiled, a wheel's build)
set -euo pipefail

packages=(influxdb nginx-light libsndfile1 espeak-ng sox chromium openssl docker.io docker-compose debootstrap gcc)
"${PYTHON:-python3}" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' ||
  packages+=(python3-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: the tests need Debian packages that are missing; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 2
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
# The packages start their own influxd and nginx on the default ports; the tests start their own.
service influxdb stop >/dev/null 2>&1 || true
service nginx stop >/dev/null 2>&1 || true
