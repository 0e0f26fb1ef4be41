#!/usr/bin/env bash
# Replication figures on this machine, with real `otpgate serve` processes on loopback (see bench/README.md):
#   lag:       a master and one replica; 100 changes/s on the master for 30 s; per change, commit on the master ->
#              applied on the replica: p50, p99, max (target: p99 < 500 ms)
#   bootstrap: a master with USERS users, each with a TOTP token; a fresh replica, from `otpgate serve` to its
#              snapshot applied and to its first RADIUS answer; snapshot size, master build time, replica apply time,
#              replica peak RSS; RUNS times, medians (target: < 10 s for 100,000 users)
# Usage: bench/replication.sh [USERS=100000] [RUNS=3]
#   PHASES="lag bootstrap"   which parts, in order
#   LAG_RATE=100 LAG_SECONDS=30 LAG_USERS=1000   the lag phase's load and its master's size
#   PORT=18150                the master's RADIUS port; the replica's is PORT+1, the replication API's PORT+2
#   SKIP_BUILD=1              do not rebuild packages/ first (the bench's TypeScript is always compiled)
#   SNAPSHOT=bench/results/<timestamp>-replication/otpgate   measure the code an earlier run of this script copied
#   PROFILE=1                 run the bootstrap's master and replicas with node --cpu-prof (profiles in the results)
#   KEEP=1                    keep the data directories
# Figures go to stdout and to bench/results/<timestamp>-replication/ (summary.txt, lag.json, bootstrap.tsv, logs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
users=${1:-100000}; runs=${2:-3}
phases=${PHASES:-lag bootstrap}
lag_rate=${LAG_RATE:-100}; lag_seconds=${LAG_SECONDS:-30}; lag_users=${LAG_USERS:-1000}
port=${PORT:-18150}; rport=$(( port + 1 )); cport=$(( port + 2 ))

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
find_shared_bench
results_dir "-replication"
command -v radclient >/dev/null || { echo "radclient is not installed (freeradius-utils)" >&2; exit 1; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- build and snapshot (bench/lib.sh) ------------------------------------------------------------------------
snap=$out/otpgate
snapshot_code "$snap" load-users.js replication-lag.js replication-bootstrap.js radius-probe.js quantile.js
cli=$snap/packages/cli/dist/main.js
loader=$snap/bench/load-users.js
lagjs=$snap/bench/replication-lag.js
bootjs=$snap/bench/replication-bootstrap.js

# --- helpers ------------------------------------------------------------------------------------------------------
og() { node "$cli" "$@"; }
busy() { ss -ltun | grep -qE "127\.0\.0\.1:($port|$rport|$cport) "; }
wait_ports_free() {
  for _ in $(seq 200); do busy || return 0; sleep 0.1; done
  echo "port $port, $rport or $cport is in use (PORT= picks others)" >&2; return 1
}
rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null; }
stop() {  # PID
  kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
  local keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}")
}
# Newer nodes also serve metrics/health checks and the admin UI, on fixed default ports: here on any free loopback
# port, so that the nodes can run side by side (left out when this build's config does not know these sections).
extra_sections=""
printf 'metrics:\n  listen: ["127.0.0.1:0"]\nadmin:\n  listen: ["127.0.0.1:0"]\n' > "$out/probe.yaml"
if og -c "$out/probe.yaml" config check > /dev/null 2>&1; then extra_sections=$(cat "$out/probe.yaml"); fi
rm -f "$out/probe.yaml"
master_config() {  # DIR LEVEL
  cat > "$1/otpgate.yaml" <<YAML
node:
  name: master
  data_dir: "$1/data"
radius:
  listen: ["127.0.0.1:$port"]
log:
  level: $2
cluster:
  listen: ["127.0.0.1:$cport"]
$extra_sections
YAML
}
replica_config() {  # DIR NAME LEVEL
  cat > "$1/otpgate.yaml" <<YAML
node:
  name: $2
  data_dir: "$1/data"
radius:
  listen: ["127.0.0.1:$rport"]
log:
  level: $3
$extra_sections
YAML
}
# A replica enrolled on the master (running or not) and joined, not started.
make_replica() {  # MASTER_DIR DIR NAME LEVEL
  mkdir -p "$2"; replica_config "$2" "$3" "$4"
  og -c "$1/otpgate.yaml" cluster add-replica "$3" --out "$2/bundle.json" > /dev/null
  og -c "$2/otpgate.yaml" replica join "$2/bundle.json" > /dev/null
}
start_master() {  # DIR [NODE_OPTION...]
  local dir=$1; shift
  node "$@" "$cli" -c "$dir/otpgate.yaml" serve > "$dir/serve.log" 2>&1 & mpid=$!; pids+=("$mpid")
  wait_log "$dir/serve.log" '"replication API listening"' "$mpid"
}
field() { echo "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }  # JSON_LINE NAME
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# --- lag ----------------------------------------------------------------------------------------------------------
phase_lag() {
  local dir=$out/lag m r drive first last rpid
  log ""
  log "== lag: $lag_rate changes/s for $lag_seconds s on a master with $lag_users users; per change, commit on the master -> applied on the replica"
  mkdir -p "$dir/master"
  m=$dir/master; r=$dir/replica
  master_config "$m" info
  og -c "$m/otpgate.yaml" init > /dev/null
  og -c "$m/otpgate.yaml" cluster init --host 127.0.0.1 > /dev/null
  node "$lagjs" seed "$m/data" "$lag_users"
  # debug: the replica logs one line per applied batch, which is what the figures are read from
  make_replica "$m" "$r" r1 debug
  wait_ports_free
  start_master "$m"
  node "$cli" -c "$r/otpgate.yaml" serve > "$r/serve.log" 2>&1 & rpid=$!; pids+=("$rpid")
  wait_log "$r/serve.log" '"otpgate node started"' "$rpid"
  sleep 1
  log "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  drive=$(node "$lagjs" drive "$m/data" "$lag_rate" "$lag_seconds")
  echo "$drive" > "$dir/drive.json"
  first=$(echo "$drive" | sed 's/.*"first":\([0-9]*\).*/\1/'); last=$(echo "$drive" | sed 's/.*"last":\([0-9]*\).*/\1/')
  log "  driver: $drive"
  for _ in $(seq 600); do  # until the replica has applied the driver's last change (30 s at most)
    [ "$(grep '"replication-applied"' "$r/serve.log" | grep -o '"to":[0-9]*' | cut -d: -f2 | sort -n | tail -1)" -ge "$last" ] 2>/dev/null && break
    sleep 0.05
  done
  log "  master peak RSS $(( $(rss_kb "$mpid") / 1024 )) MiB, replica peak RSS $(( $(rss_kb "$rpid") / 1024 )) MiB"
  stop "$rpid"; stop "$mpid"
  node "$lagjs" report "$m/data" "$r/serve.log" "$first" "$last" > "$dir/report.txt"
  head -1 "$dir/report.txt" | tee -a "$out/summary.txt"
  tail -1 "$dir/report.txt" > "$out/lag.json"
  log "  (replica warnings: $(grep -c '"level":"warn"' "$r/serve.log" || true), errors: $(grep -c '"level":"error"' "$r/serve.log" || true))"
  lag_summary="lag: $(sed 's/^ *lag, //' "$dir/report.txt" | head -1)"
  gzip -1 "$r/serve.log"
  [ -n "${KEEP:-}" ] || rm -rf "$m/data" "$r/data"
}

# --- bootstrap ----------------------------------------------------------------------------------------------------
phase_bootstrap() {
  local data m i r user secret json prof=() sent la
  log ""
  log "== bootstrap: a fresh replica of a master with $users users (each with a TOTP token), $runs runs"
  data=$(prepare_cache "$users" engine)
  m=$out/bootstrap/master
  mkdir -p "$m"
  cp -a "$data/data" "$m/data"
  master_config "$m" info
  og -c "$m/otpgate.yaml" cluster init --host 127.0.0.1 > /dev/null
  [ "${PROFILE:-}" != 1 ] || prof=(--cpu-prof --cpu-prof-dir="$out/prof")
  wait_ports_free
  start_master "$m" "${prof[@]}"
  printf 'run\tsnapshot_ms\tanswer_ms\twaiting_ms\tlistening_ms\tbytes\tbuild_ms\tencode_ms\tfetch_ms\tverify_ms\tparse_ms\tapply_ms\tpeak_rss_kb\tanswer\n' > "$out/bootstrap.tsv"
  for i in $(seq "$runs"); do
    r=$out/bootstrap/r$i
    make_replica "$m" "$r" "r$i" info
    # a different user each run: a code used on one replica is refused everywhere after (replay protection)
    user=user$(( i - 1 )); secret=$(sed -n "$(( i + 1 ))p" "$data/users.csv" | cut -d, -f3)
    sleep 1
    la=$(cut -d' ' -f1 /proc/loadavg)
    json=$(node "$bootjs" "$cli" "$r/otpgate.yaml" "$r/serve.log" "$rport" "$user" "$secret" "${prof[@]}") || { log "  run $i FAILED"; return 1; }
    sent=$(grep '"replication-snapshot-sent"' "$m/serve.log" | grep "\"replica\":\"r$i\"" | tail -1)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$(field "$json" snapshot_ms)" "$(field "$json" answer_ms)" \
      "$(field "$json" waiting_ms)" "$(field "$json" listening_ms)" "$(field "$json" snap_bytes)" "$(field "$sent" build_ms)" \
      "$(field "$sent" encode_ms)" "$(field "$json" snap_fetch_ms)" "$(field "$json" snap_verify_ms)" "$(field "$json" snap_parse_ms)" \
      "$(field "$json" snap_apply_ms)" "$(field "$json" peak_rss_kb)" "$(field "$json" answer)" >> "$out/bootstrap.tsv"
    log "  run $i: snapshot applied at $(field "$json" snapshot_ms) ms, first RADIUS answer ($(field "$json" answer)) at $(field "$json" answer_ms) ms;" \
      "snapshot $(field "$json" snap_bytes) bytes: master build $(field "$sent" build_ms) ms + serialise/sign $(field "$sent" encode_ms) ms," \
      "replica fetch $(field "$json" snap_fetch_ms) ms (includes the master's part), verify $(field "$json" snap_verify_ms) ms," \
      "parse $(field "$json" snap_parse_ms) ms, validate+apply $(field "$json" snap_apply_ms) ms; serve waited for the master from $(field "$json" waiting_ms) ms," \
      "RADIUS listening at $(field "$json" listening_ms) ms; replica peak RSS $(( $(field "$json" peak_rss_kb) / 1024 )) MiB;" \
      "load average before: $la"
    gzip -1 "$r/serve.log"
    [ -n "${KEEP:-}" ] || rm -rf "$r/data"
  done
  log "  master peak RSS $(( $(rss_kb "$mpid") / 1024 )) MiB (its own $users users in memory, plus building the snapshots)"
  stop "$mpid"
  gzip -1 "$m/serve.log"
  [ -n "${KEEP:-}" ] || rm -rf "$m/data"
  col() { awk -F'\t' -v c="$1" 'NR > 1 { print $c }' "$out/bootstrap.tsv" | median; }
  boot_summary="bootstrap ($users users, medians of $runs): first RADIUS answer $(col 3) ms after serve start, snapshot applied at $(col 2) ms;"
  boot_summary+=" snapshot $(col 6) bytes, master build $(col 7) ms + serialise/sign $(col 8) ms, replica fetch $(col 9) ms,"
  boot_summary+=" verify $(col 10) ms, parse $(col 11) ms, validate+apply $(col 12) ms; replica peak RSS $(( $(col 13 | cut -d. -f1) / 1024 )) MiB"
}

# --- main ---------------------------------------------------------------------------------------------------------
log "otpgate replication bench, $(date -Is); results in $out"
log "  $(machine_line)"
log "  $(code_line)" \
  "phases: $phases, users $users, runs $runs, ports $port-$cport"
lag_summary=""; boot_summary=""
for p in $phases; do
  case $p in lag|bootstrap) "phase_$p" ;; *) echo "unknown phase: $p (lag, bootstrap)" >&2; exit 2 ;; esac
done
log ""
log "== summary"
[ -z "$lag_summary" ] || log "$lag_summary"
[ -z "$boot_summary" ] || log "$boot_summary"
