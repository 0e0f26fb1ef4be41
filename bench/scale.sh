#!/usr/bin/env bash
# Memory and scale (issue 14; see bench/README.md): a master with USERS users (each with a TOTP token, code-only; the
# bench users of ../shared/bench/gen.mjs, loaded once by bench/load-users.ts and cached under bench/results/cache/) and
# one fresh replica, each a real `otpgate serve` on loopback. bench/scale.ts prints:
#   - the master: time from spawn to its first RADIUS answer, its RSS then, and once its user caches are warm;
#   - the admin UI users pages on the master (first page, a middle page, searches): median and p95;
#   - the replica: time from spawn (just joined) to its snapshot and to its first RADIUS answer, its peak RSS;
#   - the master's peak RSS while it builds and sends the snapshot; how long SIGTERM takes on each.
# Target: every process under 1 GiB at every moment, at 1,000,000 users.
# Usage: bench/scale.sh [USERS=1000000] [REQUESTS=100] [WARMUP=10]
#   PORT=18180               the master's RADIUS port (PORT+1: the replica's, PORT+2: the replication API)
#   SKIP_BUILD=1             do not rebuild packages/ first (the bench's TypeScript is always compiled)
#   SNAPSHOT=bench/results/<timestamp>-scale/otpgate   measure the code an earlier run of this script copied
#   CACHE_SIZE=N             radius.user_cache_size on both nodes (default: the product's)
#   DATA=bench/results/cache/engine-N-KEY   use this prepared data (its users.csv and data/) instead of the cache
#                            entry for this build: the key changes with the store code, even when the format does not
#   KEEP=1                   keep the nodes' data folders
# Figures go to stdout and to bench/results/<timestamp>-scale/ (summary.txt, scale.json, each node's config and log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
users=${1:-1000000}; requests=${2:-100}; warmup=${3:-10}
port=${PORT:-18180}; rport=$(( port + 1 )); cport=$(( port + 2 ))

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
find_shared_bench
results_dir "-scale"
command -v radclient >/dev/null || { echo "radclient is not installed (freeradius-utils)" >&2; exit 1; }

# --- build and snapshot (bench/lib.sh) ------------------------------------------------------------------------
snap=$out/otpgate
snapshot_code "$snap" load-users.js scale.js radius-probe.js ui-session.js admin-client.js quantile.js
cli=$snap/packages/cli/dist/main.js
loader=$snap/bench/load-users.js
og() { node "$cli" "$@"; }

log "otpgate scale bench, $(date -Is); results in $out"
log "  $(machine_line)"
log "  $(code_line)" "users $users, ports $port-$cport"
data=${DATA:-$(prepare_cache "$users" engine)}

# --- the nodes --------------------------------------------------------------------------------------------------
cache_line=""; [ -z "${CACHE_SIZE:-}" ] || cache_line="  user_cache_size: $CACHE_SIZE"
node_config() {  # DIR NAME RADIUS_PORT CLUSTER_LINES
  cat > "$1/otpgate.yaml" <<YAML
node:
  name: $2
  data_dir: "$1/data"
radius:
  listen: ["127.0.0.1:$3"]
$cache_line
log:
  level: debug
metrics:
  listen: ["127.0.0.1:0"]
admin:
  listen: ["127.0.0.1:0"]
$4
YAML
}
m=$out/master; r=$out/replica
mkdir -p "$m" "$r"
cp -a "$data/data" "$m/data"
node_config "$m" master "$port" "cluster:
  listen: [\"127.0.0.1:$cport\"]"
node_config "$r" replica "$rport" ""
og -c "$m/otpgate.yaml" cluster init --host 127.0.0.1 > /dev/null
og -c "$m/otpgate.yaml" cluster add-replica replica --out "$r/bundle.json" > /dev/null
og -c "$r/otpgate.yaml" replica join "$r/bundle.json" > /dev/null
# a new admin password for each run (the data copy is fresh); never shown, never in a file
admin_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$admin_pw" | og -c "$m/otpgate.yaml" admin set-password admin --password-stdin > /dev/null
log "  data: $(du -sh "$m/data" | cut -f1) on disk; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
log ""
status=0
printf '%s\n' "$admin_pw" | node "$snap/bench/scale.js" "$cli" "$m" "$r" "$data/users.csv" "$requests" "$warmup" > "$out/scale.txt" || status=$?
grep -v '^{' "$out/scale.txt" | tee -a "$out/summary.txt"
tail -1 "$out/scale.txt" > "$out/scale.json"
log "  load average after: $(cut -d' ' -f1-3 /proc/loadavg); master warnings: $(grep -c '"level":"warn"' "$m/serve.log" || true)," \
  "errors: $(grep -c '"level":"error"' "$m/serve.log" || true); replica warnings: $(grep -c '"level":"warn"' "$r/serve.log" || true)," \
  "errors: $(grep -c '"level":"error"' "$r/serve.log" || true)"
gzip -1 "$m/serve.log" "$r/serve.log"
[ -n "${KEEP:-}" ] || rm -rf "$m/data" "$r/data"
exit $status
