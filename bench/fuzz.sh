#!/usr/bin/env bash
# Structured fuzzing of otpgate's RADIUS server (bench/fuzz-*.ts, fast-check; see bench/README.md): a fresh node on
# 127.0.0.1:PORT with two clients (one must send a Message-Authenticator, one need not) and a few users, set up with
# the otpgate command; then DATAGRAMS fuzzed datagrams from 13 source ports, with valid requests among them whose
# answers are predicted. Prints datagrams sent, node crashes, wrong answers to valid requests, answers to datagrams the
# server must drop, error lines in the node's log, and the node's RSS (start, peak, end, slope per 100k datagrams).
# Exits 1 when anything of that went wrong.
# Usage: bench/fuzz.sh [DATAGRAMS=1000000]
#   RATE=2500          datagrams per second, every socket together (the fuzzer and the node share the machine)
#   SEED=<n>           fast-check's seed (every run prints its own), to send a run's datagrams again
#   PORT=18170         the node's RADIUS port
#   SKIP_BUILD=1       do not rebuild packages/ first (the bench's TypeScript is always compiled)
#   SNAPSHOT=bench/results/<timestamp>-fuzz/otpgate   fuzz the code an earlier run of this script copied
#   KEEP=1             keep the node's data directory
# Everything goes to bench/results/<timestamp>-fuzz/: summary.txt, fuzz-report.json, the node's log (serve.log.gz);
# after a failure also fuzz-last-datagrams.txt (the last 500 sent, hex) and fuzz-counterexample.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
datagrams=${1:-1000000}
rate=${RATE:-2500}
port=${PORT:-18170}

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
results_dir "-fuzz"
pid=""
cleanup() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; }
trap cleanup EXIT

snap=$out/otpgate
snapshot_code "$snap" fuzz.js fuzz-checks.js fuzz-datagrams.js fuzz-endpoint.js fuzz-fixture.js fuzz-session.js
cli=$snap/packages/cli/dist/main.js
fuzz=$snap/bench/fuzz.js

dir=$out/node; mkdir -p "$dir"
cat > "$dir/otpgate.yaml" <<YAML
node:
  name: fuzz
  data_dir: "$dir/data"
radius:
  listen: ["127.0.0.1:$port"]
log:
  level: info
metrics:
  listen: ["127.0.0.1:0"]
admin:
  listen: ["127.0.0.1:0"]
YAML
node "$cli" -c "$dir/otpgate.yaml" init > /dev/null
node "$fuzz" prepare "$cli" "$dir/otpgate.yaml" "$dir/fixture.json"
if ss -lun | grep -q "127.0.0.1:$port "; then echo "port $port is in use (PORT= picks another)" >&2; exit 1; fi
node "$cli" -c "$dir/otpgate.yaml" serve > "$dir/serve.log" 2>&1 & pid=$!
wait_log "$dir/serve.log" '"otpgate node started"' "$pid"

log "== RADIUS fuzzing: bench/fuzz.sh $datagrams (RATE=$rate${SEED:+ SEED=$SEED})"
log "$(machine_line)"
log "$(code_line)"
log "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
node "$fuzz" run --port "$port" --pid "$pid" --fixture "$dir/fixture.json" --datagrams "$datagrams" --rate "$rate" \
  ${SEED:+--seed "$SEED"} --out "$out" | sed 's/^/  /' | tee -a "$out/summary.txt" || status=$?
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"; wait "$pid" || log "  the node exited with status $? after SIGTERM"
else
  wait "$pid" || log "  the node had exited by itself, status $?"; status=1
fi
pid=""
# the server catches what a handler throws and logs it as an error (or the process dies with a stack trace): a defect
errors=$(grep -cv '"level":"\(trace\|debug\|info\|warn\)"' "$dir/serve.log" || true)
log "  error lines in the node's log: $errors$( [ "$errors" = 0 ] || echo " (first: $(grep -v '"level":"\(trace\|debug\|info\|warn\)"' "$dir/serve.log" | head -1 | cut -c1-300))")"
[ "$errors" = 0 ] || status=1
log "  command: bench/fuzz.sh $datagrams (RATE=$rate SEED=<the seed above> replays the same datagrams); results in $out"
gzip -1 "$dir/serve.log"
[ -n "${KEEP:-}" ] || rm -rf "$dir/data"
exit "$status"
