#!/usr/bin/env bash
# Docker smoke run: the image as deployed (mock + headless master + 2 workers), offline, in a few minutes.
#
#   sudo docker/smoke.sh
#
# Builds s2s-base:bookworm if it is missing (docker/base/build-base.sh: debootstrap, needs root), builds the
# tester image on it, then runs one mock, one headless master and two workers with --network host, every port on
# 127.0.0.1, and checks the master's report: 4 sessions, from 2 workers, every turn completed. Its containers are
# removed however it ends.
#
# Environment:
#   S2S_SMOKE_REPORTS   where the master's report folder goes (default: a new temporary folder; kept, printed)
#   S2S_SMOKE_TIMEOUT   seconds to wait for the master to finish (default 300)
#   S2S_EXTRA_CA_DIR    *.crt files to trust in the image build (default /usr/local/share/ca-certificates,
#                       the host's own additions, e.g. a TLS-intercepting proxy's CA; empty: none)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${S2S_BASE_IMAGE:-s2s-base:bookworm}
IMAGE=${S2S_SMOKE_IMAGE:-s2s-users:smoke}
TIMEOUT=${S2S_SMOKE_TIMEOUT:-300}
EXTRA_CA_DIR=${S2S_EXTRA_CA_DIR-/usr/local/share/ca-certificates}
REPORTS=${S2S_SMOKE_REPORTS:-$(mktemp -d "${TMPDIR:-/tmp}/s2s-smoke.XXXXXX")}
NAME=s2s-smoke-$$
USERS=4
WORKERS=2
TURNS=5

started=$SECONDS
phase() { echo "smoke: [$((SECONDS - started))s] $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_port() {
  python3 - "$1" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
}

containers=()
copied_certs=()
cleanup() {
  local status=$?
  if [ "$status" != 0 ] && [ "${#containers[@]}" -gt 0 ]; then
    for c in "${containers[@]}"; do echo "--- last log lines of $c" >&2; docker logs --tail 15 "$c" >&2 || true; done
  fi
  [ "${#containers[@]}" -gt 0 ] && docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  [ "${#copied_certs[@]}" -gt 0 ] && rm -f "${copied_certs[@]}" || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd, or run as a user in group docker)"

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  phase "base image $BASE_IMAGE present"
else
  phase "building base image $BASE_IMAGE (debootstrap)"
  S2S_BASE_IMAGE=$BASE_IMAGE docker/base/build-base.sh
fi

# The build runs pip against PyPI: trust the same extra CAs as the host does.
if [ -n "$EXTRA_CA_DIR" ]; then
  for cert in "$EXTRA_CA_DIR"/*.crt; do
    [ -f "$cert" ] || continue
    target=docker/ca-certificates/smoke-host-$(basename "$cert")
    cp "$cert" "$target"
    copied_certs+=("$target")
  done
fi

phase "building $IMAGE on $BASE_IMAGE"
mkdir -p "$REPORTS"
docker build --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" . >"$REPORTS/build.log" 2>&1 || {
  tail -n 40 "$REPORTS/build.log" >&2
  fail "docker build (log: $REPORTS/build.log)"
}

mock_port=$(free_port)
master_port=$(free_port)
while [ "$master_port" = "$mock_port" ]; do master_port=$(free_port); done
report=$REPORTS/smoke-$$
mkdir -p "$report"
chmod 0777 "$report"  # the image runs as an unprivileged user (uid 10001)
common=(--network host -e S2S_API_KEY=mock-key)

phase "starting mock on 127.0.0.1:$mock_port, master on 127.0.0.1:$master_port, $WORKERS workers"
containers+=("$NAME-mock")
docker run -d --name "$NAME-mock" "${common[@]}" --entrypoint python3 "$IMAGE" \
  -m s2s_users mock --host 127.0.0.1 --port "$mock_port" --time-scale 10 >/dev/null
wait_for_port "$mock_port" || fail "the mock does not listen on 127.0.0.1:$mock_port"

containers+=("$NAME-master")
docker run -d --name "$NAME-master" "${common[@]}" -v "$report:/report" "$IMAGE" \
  --master --master-bind-host 127.0.0.1 --master-bind-port "$master_port" \
  --headless --expect-workers "$WORKERS" -u "$USERS" -r "$USERS" --sessions-per-user 1 --turns "$TURNS" \
  --s2s-pace 10 --mock-time-scale 10 --think-time 0.1 --chunk-ms 100 --run-time 3m --exit-code-on-error 0 \
  --s2s-url "ws://127.0.0.1:$mock_port/v1/realtime" --report-dir /report >/dev/null

for i in $(seq 1 "$WORKERS"); do
  containers+=("$NAME-worker-$i")
  docker run -d --name "$NAME-worker-$i" "${common[@]}" "$IMAGE" \
    --worker --master-host 127.0.0.1 --master-port "$master_port" \
    --s2s-url "ws://127.0.0.1:$mock_port/v1/realtime" >/dev/null
done

phase "waiting for the master to finish (up to ${TIMEOUT}s)"
exit_code=$(timeout "$TIMEOUT" docker wait "$NAME-master") || fail "the master did not finish within ${TIMEOUT}s"
[ "$exit_code" = 0 ] || fail "the master exited with code $exit_code"

[ -f "$report/report.json" ] || fail "no report.json in $report"
python3 - "$report" "$USERS" "$WORKERS" "$((USERS * TURNS))" <<'PY' || fail "the report does not show the expected run"
import json, sys
from pathlib import Path

run_dir, sessions, workers, turns = Path(sys.argv[1]), *map(int, sys.argv[2:])
report = json.loads((run_dir / "report.json").read_text())
records = [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text().splitlines() if line]
seen_workers = sorted({r["worker"] for r in records})
completed = sum(m["turns_completed"] for m in report["models"])
print(f"smoke: report: {report['sessions']} sessions from workers {', '.join(seen_workers)}; "
      f"{completed}/{turns} turns completed")
assert report["sessions"] == sessions, f"{report['sessions']} sessions, expected {sessions}"
assert len(seen_workers) == workers, f"sessions came from {seen_workers}, expected {workers} workers"
assert completed == turns, f"{completed} turns completed, expected {turns}"
PY
phase "passed; report in $report"
