#!/usr/bin/env bash
# The admin UI's users pages on a master with many users (issue 8; see bench/README.md): server time per page.
#   A master with USERS users (each with a TOTP token, no local password; groups vpn = the even users, admins =
#   user0), prepared once by bench/ui-users.ts and cached under bench/results/cache/, started with `otpgate serve`
#   (admin UI and metrics on free loopback ports, RADIUS on PORT). The driver signs in as the admin and requests each
#   page REQUESTS times (after WARMUP requests) over one kept-alive HTTPS connection; it prints median and p95 per page
#   (target: p95 < 100 ms).
# Usage: bench/ui-users.sh [USERS=100000] [REQUESTS=200] [WARMUP=20]
#   PORT=18160               the master's RADIUS port (nothing is sent to it)
#   SKIP_BUILD=1             do not rebuild packages/ first (the bench's TypeScript is always compiled)
#   SNAPSHOT=bench/results/<timestamp>-ui/otpgate   measure the code an earlier run of this script copied
#   PROFILE=1                run the master with node --cpu-prof (profile in the results)
#   KEEP=1                   keep the master's data copy
# Figures go to stdout and to bench/results/<timestamp>-ui/ (summary.txt, pages.json, the master's config and log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
users=${1:-100000}; requests=${2:-200}; warmup=${3:-20}
port=${PORT:-18160}

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
results_dir "-ui"

mpid=""
cleanup() { [ -z "$mpid" ] || { kill "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true; }; }
trap cleanup EXIT

# --- build and snapshot (bench/lib.sh) ------------------------------------------------------------------------
snap=$out/otpgate
snapshot_code "$snap" ui-users.js ui-session.js admin-client.js quantile.js
cli=$snap/packages/cli/dist/main.js
driver=$snap/bench/ui-users.js

# --- the master's data, cached: rebuilt when the store format or the builder changes ------------------------------
key=$(cat "$snap"/packages/core/dist/store/{migrations,entity-handlers}.js "$snap"/packages/shared/dist/{records,sealing}.js \
  "$driver" 2>/dev/null | sha256sum | cut -c1-12)
data=$cache/ui-$users-$key
if [ ! -d "$data" ]; then
  rm -rf "$cache/ui-$users-"*
  echo "  preparing $users users for the admin UI in $data (once; later runs reuse it)" >&2
  tmp=$(mktemp -d "$cache/.build-XXXXXX")
  node "$driver" build "$tmp/data" "$users" >&2
  mv "$tmp" "$data"
fi

m=$out/master; mkdir -p "$m"
cp -a "$data/data" "$m/data"
cat > "$m/otpgate.yaml" <<YAML
node:
  name: master
  data_dir: "$m/data"
radius:
  listen: ["127.0.0.1:$port"]
log:
  level: info
metrics:
  listen: ["127.0.0.1:0"]
admin:
  listen: ["127.0.0.1:0"]
YAML
# a new admin password for each run (the data copy is fresh); never shown, never in a file
admin_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$admin_pw" | node "$cli" -c "$m/otpgate.yaml" admin set-password admin --password-stdin > /dev/null

prof=(); [ "${PROFILE:-}" != 1 ] || prof=(--cpu-prof --cpu-prof-dir="$out/prof")
node "${prof[@]}" "$cli" -c "$m/otpgate.yaml" serve > "$m/serve.log" 2>&1 & mpid=$!
admin_port=""
for _ in $(seq 600); do
  admin_port=$(grep '"admin UI listening (HTTPS)"' "$m/serve.log" 2>/dev/null | sed -n 's/.*"listen":"[^"]*:\([0-9]*\)".*/\1/p' | head -1 || true)
  if [ -n "$admin_port" ] && grep -q '"otpgate node started"' "$m/serve.log"; then break; fi
  kill -0 "$mpid" 2>/dev/null || { echo "otpgate serve exited:" >&2; tail -5 "$m/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$admin_port" ] || { echo "no \"admin UI listening (HTTPS)\" line in $m/serve.log" >&2; exit 1; }

log "otpgate admin UI bench (users pages), $(date -Is); results in $out"
log "  $(machine_line)"
log "  $(code_line)" \
  "users $users, $requests requests per page after $warmup warm-up, one kept-alive HTTPS connection, admin UI on 127.0.0.1:$admin_port"
log "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
log ""
log "== server time per page (request sent -> last byte received, on loopback; target p95 < 100 ms)"
printf '%s\n' "$admin_pw" | node "$driver" measure "https://127.0.0.1:$admin_port" "$m/data/admin/tls.crt" admin "$requests" "$warmup" > "$out/measure.txt"
grep -v '^{' "$out/measure.txt" | tee -a "$out/summary.txt"
tail -1 "$out/measure.txt" > "$out/pages.json"
log ""
log "  master peak RSS $(( $(awk '/^VmHWM/ {print $2}' "/proc/$mpid/status") / 1024 )) MiB; load average after: $(cut -d' ' -f1-3 /proc/loadavg);" \
  "master warnings: $(grep -c '"level":"warn"' "$m/serve.log" || true), errors: $(grep -c '"level":"error"' "$m/serve.log" || true)"
kill -TERM "$mpid"; wait "$mpid" || true; mpid=""
[ "${PROFILE:-}" != 1 ] || log "  CPU profile: $(ls "$out"/prof/*.cpuprofile 2>/dev/null | head -1)"
[ -n "${KEEP:-}" ] || rm -rf "$m/data"
