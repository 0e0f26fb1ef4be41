#!/usr/bin/env bash
# Soak: a master and two replicas (real `otpgate serve` processes on loopback) under mixed load for SOAK_MINUTES:
# Accepts, Rejects, identical retransmits, one code sent to two nodes at once, malformed datagrams, challenge flows,
# the admin UI (sign in, list users, change a user), imports of 2,000 users every few minutes; midway a replica and
# then the master are killed (kill -9) and restarted (bench/soak.ts). Prints accepts lost, replays accepted, wrong
# answers, requests answered during each restart, and each node's RSS and database size at the start and the end.
# Exits 1 when an accept was lost, a replay accepted (master up) or an answer wrong.
# Usage: bench/soak.sh
#   SOAK_MINUTES=30    how long the load runs
#   RATE=100           RADIUS requests a second over the three nodes (the machine is shared: keep it modest)
#   PORT=18180         the master's RADIUS port; replicas PORT+1, PORT+2; replication API PORT+3; admin UI PORT+4
#   SKIP_BUILD=1       do not rebuild packages/ first (the bench's TypeScript is always compiled)
#   SNAPSHOT=bench/results/<timestamp>-soak/otpgate   soak the code an earlier run of this script copied
#   KEEP=1             keep the nodes' data directories
# Everything goes to bench/results/<timestamp>-soak/: summary.txt, samples.tsv (RSS and database size every 10 s),
# each node's config and log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
minutes=${SOAK_MINUTES:-30}
rate=${RATE:-100}
port=${PORT:-18180}

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
results_dir "-soak"
snap=$out/otpgate
snapshot_code "$snap" soak.js admin-client.js bench-node.js radius-packets.js users-csv.js

log "otpgate soak, $(date -Is); results in $out"
log "  $(machine_line)"
log "  $(code_line) $minutes min at $rate requests/s, ports $port-$(( port + 4 )); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
log "  command: SOAK_MINUTES=$minutes RATE=$rate PORT=$port bench/soak.sh"
status=0
node "$snap/bench/soak.js" "$snap/packages/cli/dist/main.js" "$out/run" "$minutes" "$rate" "$port" | tee -a "$out/summary.txt" || status=$?
log "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in master r1 r2; do
  log "  $n: $(grep -c '"level":"error"' "$out/run/$n/serve.log" || true) error lines, $(grep -c '"level":"warn"' "$out/run/$n/serve.log" || true) warnings"
  gzip -1 "$out/run/$n/serve.log"
done
[ -n "${KEEP:-}" ] || rm -rf "$out"/run/*/data "$out"/run/*.csv
exit "$status"
