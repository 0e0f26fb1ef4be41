#!/usr/bin/env bash
# otpgate vs FreeRADIUS on the same generated users with the same load step (../shared/bench/load.sh, or SHARED_BENCH).
# Usage: bench/run.sh [USERS=20000] [PARALLEL=256] [RUNS=3]
#   WORKLOADS="engine local directory"  which workloads, in order (see bench/README.md)
#   LOADGEN=radblast|radclient load generator used by load.sh for both sides (default radblast)
#   PORT=18120                both servers listen here, one at a time
#   LOCAL_USERS, LOCAL_PARALLEL, ENGINE_USERS, ENGINE_PARALLEL, DIRECTORY_USERS, DIRECTORY_PARALLEL: per-workload
#                             sizes (both sides alike)
#   LDAP_PORT=13389           directory: the slapd freeradius-ldap.sh starts for each FreeRADIUS run
#   OTPGATE_LDAP_PORT=13390   directory: the slapd started once (slapd.sh, same users) for the otpgate runs
#   DIRECTORY_POOL_SIZE=16    directory: otpgate's LDAP pool_size (--pool-size; 16 search + 16 bind connections, the 32
#                             FreeRADIUS's rlm_ldap pool may open, which is also the product default)
#   SKIP_BUILD=1              do not rebuild packages/ before running (the loader is always compiled)
#   SNAPSHOT=bench/results/<timestamp>/otpgate   measure the code an earlier bench run copied, without building
#   TOP=1                     also write `top` snapshots taken every second during each run (a rough picture only)
#   KEEP=1                    keep FreeRADIUS's temporary directory (freeradius.sh) and otpgate's data copies
# Figures go to stdout and to bench/results/<timestamp>/ (runs.tsv, summary.txt, one log per run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
users=${1:-20000}; parallel=${2:-256}; runs=${3:-3}
port=${PORT:-18120}
workloads=${WORKLOADS:-engine local directory}
export LOADGEN=${LOADGEN:-radblast}
case $LOADGEN in radblast|radclient) ;; *) echo "LOADGEN must be radblast or radclient" >&2; exit 2;; esac

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
find_shared_bench
results_dir ""
clk=$(getconf CLK_TCK)
real_freeradius=$(command -v freeradius) || { echo "freeradius is not installed" >&2; exit 1; }

ogpid=""; bgjob=""; slapd_pid=""
cleanup() {
  [ -z "$ogpid" ] || { kill "$ogpid" 2>/dev/null || true; wait "$ogpid" 2>/dev/null || true; }
  [ -z "$slapd_pid" ] || kill "$slapd_pid" 2>/dev/null || true
  [ -z "$bgjob" ] || { kill "$bgjob" 2>/dev/null || true; wait "$bgjob" 2>/dev/null || true; }
}
trap cleanup EXIT

# --- build and snapshot (bench/lib.sh) ------------------------------------------------------------------------
snap=$out/otpgate
snapshot_code "$snap" load-users.js
cli=$snap/packages/cli/dist/main.js
loader=$snap/bench/load-users.js
argon2=$(cd "$snap/bench" && node --input-type=module -e \
  "const { ARGON2_OPTIONS: a } = await import('@otpgate/core'); console.log(\`m=\${a.memoryCost} KiB t=\${a.timeCost} p=\${a.parallelism}\`)")

# FreeRADIUS runs through freeradius.sh untouched; a shim first on its PATH only observes: it starts the real
# freeradius as its child and, when freeradius.sh stops it, records the child's peak RSS and CPU time before
# passing the signal on.
shim=$out/shim; mkdir -p "$shim"
cat > "$shim/freeradius" <<'SHIM'
#!/usr/bin/env bash
"$REAL_FREERADIUS" "$@" & child=$!
echo "$child" > "$FR_STATS_FILE.pid"
stop() {
  { grep '^VmHWM' "/proc/$child/status" | awk '{print "rss_kb", $2}'
    sed 's/.*) //' "/proc/$child/stat" | awk '{print "cpu_ticks", $12 + $13}'; } > "$FR_STATS_FILE" 2>/dev/null || true
  kill -TERM "$child" 2>/dev/null || true; wait "$child" || true; exit 0
}
trap stop TERM INT
wait "$child"
SHIM
chmod +x "$shim/freeradius"

# --- helpers ------------------------------------------------------------------------------------------------------
listening() { ss -lun | grep -q "127.0.0.1:$port "; }
wait_port_free() {
  for _ in $(seq 200); do listening || return 0; sleep 0.1; done
  echo "port $port is still in use: another server has not let go of it" >&2; return 1
}
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# directory workload: the slapd serving a side (found by its listen URL; only looked at, never signalled from here)
slapd_on() { pgrep -f "^slapd -f .* -h ldap://127.0.0.1:$1/" | head -1; }
# CPU ticks of PID, written to FILE every 0.2 s while it lives: the last value is its total when it stopped
follow_ticks() { while kill -0 "$1" 2>/dev/null; do t=$(cpu_ticks "$1"); [ -z "$t" ] || echo "$t" > "$2"; sleep 0.2; done; }
sample_top() {  # PID FILE: snapshots while PID lives
  while kill -0 "$1" 2>/dev/null; do { date +%T.%N; top -b -n1 -w 160 | sed -n '1,5p;7,16p'; echo; } >> "$2"; sleep 1; done
}

# Reads NAME's lines from a load.sh output into acc tot rej lost p50 p99 authps (radclient gives no rej/lost/latency).
parse_load() {
  local f=$1 name=$2
  acc=$(sed -n "s/^$name accepted: \([0-9]*\)\/.*/\1/p" "$f" | tail -1)
  tot=$(sed -n "s/^$name accepted: [0-9]*\/\([0-9]*\).*/\1/p" "$f" | tail -1)
  rej=$(sed -n "s/^$name accepted: .* rejected: \([0-9]*\).*/\1/p" "$f" | tail -1)
  lost=$(sed -n "s/^$name accepted: .* lost: \([0-9]*\).*/\1/p" "$f" | tail -1)
  p50=$(sed -n "s/^$name latency ms: p50 \([0-9.]*\) .*/\1/p" "$f" | tail -1)
  p99=$(sed -n "s/^$name latency ms: .* p99 \([0-9.]*\) .*/\1/p" "$f" | tail -1)
  authps=$(sed -n "s/^$name auth\/s: \([0-9]*\).*/\1/p" "$f" | tail -1)
  : "${acc:=0}" "${tot:=0}" "${rej:=-}" "${lost:=-}" "${p50:=-}" "${p99:=-}" "${authps:=0}"
}

# One result row. radblast's auth/s counts every request finished (rejected and lost too) over the run; the figure
# reported here is accepted requests per second, which is the same number when all are accepted.
record() {  # WORKLOAD SIDE RUN N TICKS RSS_KB LOADAVG [LDAP_TICKS: the slapd's CPU over the same time, directory only]
  local wl=$1 side=$2 i=$3 n=$4 ticks=$5 rss=$6 secs accps cpu cpu_us load_before=$7 lticks=${8:--} lcpu
  if [ "$LOADGEN" = radclient ]; then
    accps=$authps; secs=$(awk -v a="$acc" -v r="$authps" 'BEGIN { printf "%f", ((a > 0 && r > 0) ? a / r : 0) }')
  else
    secs=$(awk -v n="$n" -v r="$authps" 'BEGIN { printf "%f", (r > 0 ? n / r : 0) }')
    accps=$(awk -v a="$acc" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? a / s : 0) }')
  fi
  cpu=$(awk -v t="$ticks" -v c="$clk" -v s="$secs" 'BEGIN { if (t == "" || t == "-" || s <= 0) print "-"; else printf "%.0f", t / c / s * 100 }')
  # the server's own CPU time (all its threads, user + system) per request: steadier than auth/s on a shared machine
  cpu_us=$(awk -v t="$ticks" -v c="$clk" -v n="$n" 'BEGIN { if (t == "" || t == "-" || n <= 0) print "-"; else printf "%.1f", t / c * 1e6 / n }')
  lcpu=$(awk -v t="$lticks" -v c="$clk" -v s="$secs" 'BEGIN { if (t == "" || t == "-" || s <= 0) print "-"; else printf "%.0f", t / c / s * 100 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$side" "$i" "$n" "$acc" "$rej" "$lost" "$accps" \
    "$p50" "$p99" "${rss:--}" "$cpu" "$secs" "$lcpu" "$cpu_us" >> "$out/runs.tsv"
  log "  $side run $i: $accps accepted/s (accepted $acc/$tot rejected $rej lost $lost; load $(printf '%.1f' "$secs") s)," \
    "p50 $p50 ms p99 $p99 ms, CPU ${cpu}% of one core, ${cpu_us} us per request$([ "$lcpu" = - ] || echo " (its slapd ${lcpu}%)"), peak RSS $(( ${rss:-0} / 1024 )) MiB;" \
    "load average before: $load_before"
}

# What otpgate's own log says about a run: auth lines per result/reason, warnings, errors, drop causes.
otpgate_log_summary() {
  local f=$1 auth results drops
  auth=$(grep -c '"event":"auth"' "$f" || true)
  results=$(grep '"event":"auth"' "$f" | grep -o '"result":"[a-z]*","reason":[a-z"-]*' | sed 's/"result":"\([a-z]*\)","reason":"\{0,1\}\([a-z-]*\)"\{0,1\}/\1 \2/; s/ null$//' \
    | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2 ($3 ? "(" $3 ")" : ""), $1 }' || true)
  drops=$(grep '"event":"radius-drop"' "$f" | grep -o '"cause":"[a-z-]*"' | cut -d'"' -f4 | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }' || true)
  log "    otpgate log: $auth auth lines [${results:-none}]; warn $(grep -c '"level":"warn"' "$f" || true)," \
    "error $(grep -c '"level":"error"' "$f" || true); drop lines (rate-limited, 1/min per cause): ${drops:-none}"
}

# --- workloads ----------------------------------------------------------------------------------------------------
# A workload sets: FR_SCRIPT (the FreeRADIUS anchor in $shared), FR_NAME (the name its load lines start with), LOAD_ENV (environment for both load steps),
# LOADER_MODE (how bench/load-users.ts prepares otpgate's users), WL_USERS / WL_PARALLEL (both sides alike),
# OG_CONFIG_EXTRA (YAML appended to otpgate's config), WL_NOTE (printed next to the figures), and may define
# wl_<name>_setup / wl_<name>_teardown (e.g. the directory workload's slapd for otpgate) -- see bench/README.md.
wl_engine() {
  FR_SCRIPT=freeradius.sh; FR_NAME=freeradius; LOAD_ENV=(OTP_ONLY=1); LOADER_MODE=engine; OG_CONFIG_EXTRA=""
  WL_USERS=${ENGINE_USERS:-$users}; WL_PARALLEL=${ENGINE_PARALLEL:-$parallel}
  WL_NOTE="code only on both sides (FreeRADIUS rlm_totp alone; otpgate users in code-only mode); no password hashing"
}
wl_local() {
  FR_SCRIPT=freeradius.sh; FR_NAME=freeradius; LOAD_ENV=(); LOADER_MODE=local; OG_CONFIG_EXTRA=""
  # argon2id verifies ~100/s on 2 cores: 20,000 requests would take minutes, and codes built when the load starts
  # are valid for 40-60 s only (current step + window_past 1), so the rest would be rejected as bad codes.
  WL_USERS=${LOCAL_USERS:-$(( users < 2000 ? users : 2000 ))}; WL_PARALLEL=${LOCAL_PARALLEL:-$parallel}
  WL_NOTE="password+code: otpgate verifies argon2id ($argon2), FreeRADIUS compares a Cleartext-Password"
}

wl_directory() {
  # Issue 5: both servers check the password by LDAP against a slapd holding the same users, and the code locally.
  # FreeRADIUS: freeradius-ldap.sh (rlm_ldap, pooled, search + bind as the user; rlm_totp), its own throwaway slapd on
  # LDAP_PORT for each run. otpgate: users without a local password in inline mode, an LDAP backend "bench" (search as
  # cn=admin then bind as the user, plain LDAP, no TLS on either side) against a slapd started once by
  # wl_directory_setup with slapd.sh (same script, same users, same indexes) on OTPGATE_LDAP_PORT.
  pool_size=${DIRECTORY_POOL_SIZE-16}
  FR_SCRIPT=freeradius-ldap.sh; FR_NAME=freeradius-ldap; LOAD_ENV=(LDAP_PORT="${LDAP_PORT:-13389}"); LOADER_MODE=directory; OG_CONFIG_EXTRA=""
  WL_USERS=${DIRECTORY_USERS:-$users}; WL_PARALLEL=${DIRECTORY_PARALLEL:-$parallel}
  WL_NOTE="password by LDAP search + bind against slapd (FreeRADIUS rlm_ldap, pool of up to 32 connections; otpgate's LDAP backend, pool_size ${pool_size:-16 (default)}), code checked locally"
}
wl_directory_setup() {
  local lport=${OTPGATE_LDAP_PORT:-13390}
  ! ss -ltn | grep -q "127.0.0.1:$lport " || { echo "port $lport (OTPGATE_LDAP_PORT) is in use" >&2; exit 1; }
  log "  starting slapd for otpgate on 127.0.0.1:$lport with $WL_USERS users ($shared/slapd.sh)"
  slapd_pid=$("$shared/slapd.sh" "$out/slapd" "$lport" "$WL_USERS" | tail -1)
  ldap_url=ldap://127.0.0.1:$lport
}
wl_directory_teardown() {
  [ -z "$slapd_pid" ] || { kill "$slapd_pid" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$slapd_pid" 2>/dev/null || break; sleep 0.1; done; }
  slapd_pid=""; rm -rf "$out/slapd/db"
}
# Runs once otpgate's config and fresh data copy exist, before it starts: the LDAP backend, through the CLI.
wl_directory_run_setup() {  # CONFIG
  printf 'adminpw\n' | node "$cli" -c "$1" backend add-ldap bench --server "$ldap_url" --bind-dn cn=admin,dc=example,dc=com \
    --bind-password-stdin --base-dn ou=people,dc=example,dc=com --filter '(&(objectClass=inetOrgPerson)(uid={user}))' \
    ${pool_size:+--pool-size "$pool_size"} > /dev/null
  node "$cli" -c "$1" settings set auth.backends '["bench"]' > /dev/null
}

run_freeradius() {  # WORKLOAD RUN
  local wl=$1 i=$2 f=$out/$1-freeradius-$2.log stats=$out/$1-freeradius-$2.stats frpid="" t0="" t1="" rss="" la
  wait_port_free
  la=$(cut -d' ' -f1 /proc/loadavg)
  env "${LOAD_ENV[@]}" PORT="$port" PATH="$shim:$PATH" FR_STATS_FILE="$stats" REAL_FREERADIUS="$real_freeradius" \
    "$shared/$FR_SCRIPT" "$WL_USERS" "$WL_PARALLEL" > "$f" 2>&1 & bgjob=$!
  for _ in $(seq 600); do
    if [ -s "$stats.pid" ] && listening; then frpid=$(cat "$stats.pid"); break; fi
    kill -0 "$bgjob" 2>/dev/null || break
    sleep 0.1
  done
  [ -z "$frpid" ] || t0=$(cpu_ticks "$frpid")
  local lpid="" lt0="" lticks=-
  if [ "$wl" = directory ]; then
    lpid=$(slapd_on "${LDAP_PORT:-13389}"); [ -z "$lpid" ] || { lt0=$(cpu_ticks "$lpid"); follow_ticks "$lpid" "$stats.slapd" & }
  fi
  [ "${TOP:-}" != 1 ] || sample_top "$bgjob" "$out/$wl-freeradius-$i.top" &
  if ! wait "$bgjob"; then bgjob=""; log "  freeradius run $i FAILED:"; tail -5 "$f" | tee -a "$out/summary.txt"; return 1; fi
  bgjob=""
  # freeradius.sh only signals the shim on exit: give it a moment to record the figures and stop the server
  for _ in $(seq 50); do [ -n "$frpid" ] && kill -0 "$frpid" 2>/dev/null || break; sleep 0.1; done
  if [ -s "$stats" ]; then
    t1=$(awk '/^cpu_ticks/ {print $2}' "$stats"); rss=$(awk '/^rss_kb/ {print $2}' "$stats")
  fi
  parse_load "$f" "${FR_NAME:-freeradius}"
  if [ -n "$lt0" ]; then
    for _ in $(seq 20); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
    [ ! -s "$stats.slapd" ] || lticks=$(( $(cat "$stats.slapd") - lt0 ))
  fi
  record "$wl" freeradius "$i" "$WL_USERS" "$( [ -n "$t0" ] && [ -n "$t1" ] && echo $(( t1 - t0 )) || echo -)" "$rss" "$la" "$lticks"
}

run_otpgate() {  # WORKLOAD RUN CACHE_DIR
  local wl=$1 i=$2 data=$3 dir=$out/$1-otpgate-$2 t0 t1 rss la started=""
  mkdir -p "$dir"
  cp -a "$data/data" "$dir/data"   # a fresh copy: the previous run's used-up steps must not reject this run's codes
  cat > "$dir/otpgate.yaml" <<YAML
node:
  name: bench
  data_dir: "$dir/data"
radius:
  listen: ["127.0.0.1:$port"]
log:
  level: info
$OG_CONFIG_EXTRA
YAML
  ! declare -F "wl_${wl}_run_setup" >/dev/null || "wl_${wl}_run_setup" "$dir/otpgate.yaml"
  wait_port_free
  node "$cli" --config "$dir/otpgate.yaml" serve > "$dir/otpgate.log" 2>&1 & ogpid=$!
  for _ in $(seq 300); do
    if grep -q '"otpgate node started"' "$dir/otpgate.log" && listening; then started=1; break; fi
    kill -0 "$ogpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$started" ]; then log "  otpgate run $i FAILED to start:"; tail -5 "$dir/otpgate.log" | tee -a "$out/summary.txt"; return 1; fi
  t0=$(cpu_ticks "$ogpid"); la=$(cut -d' ' -f1 /proc/loadavg)
  local lt0="" lticks=-
  [ -z "$slapd_pid" ] || lt0=$(cpu_ticks "$slapd_pid")
  env "${LOAD_ENV[@]}" "$shared/load.sh" otpgate "$port" "$WL_USERS" "$WL_PARALLEL" "$dir" > "$dir/load.log" 2>&1 & bgjob=$!
  [ "${TOP:-}" != 1 ] || sample_top "$bgjob" "$dir/top.txt" &
  if ! wait "$bgjob"; then bgjob=""; log "  otpgate load step FAILED:"; tail -5 "$dir/load.log" | tee -a "$out/summary.txt"; return 1; fi
  bgjob=""
  t1=$(cpu_ticks "$ogpid")
  [ -z "$lt0" ] || lticks=$(( $(cpu_ticks "$slapd_pid") - lt0 ))
  # requests the load generator gave up on may still be queued (argon2 in the local workload): let otpgate work them
  # off before stopping it (it does not wait for requests in flight when stopped) and say how long that took
  local prev=$t1 now busy=0
  for _ in $(seq 240); do
    sleep 0.5; now=$(cpu_ticks "$ogpid")
    [ $(( now - prev )) -gt $(( clk / 20 )) ] || break
    prev=$now; busy=$(( busy + 1 ))
  done
  rss=$(rss_kb "$ogpid")
  kill -TERM "$ogpid"; wait "$ogpid" || log "  otpgate exited with status $? after SIGTERM"
  ogpid=""
  parse_load "$dir/load.log" otpgate
  record "$wl" otpgate "$i" "$WL_USERS" "$(( t1 - t0 ))" "$rss" "$la" "$lticks"
  [ "$busy" -eq 0 ] || log "    otpgate was still busy for $(( (busy + 1) / 2 )) s after the load step ended (working off requests already given up on)"
  otpgate_log_summary "$dir/otpgate.log"
  gzip -1 "$dir/otpgate.log"   # one JSON line per request: ~6 MB a run at 20,000 users
  [ -n "${KEEP:-}" ] || rm -rf "$dir/data"
}

summarize() {  # WORKLOAD
  awk -F'\t' -v wl="$1" -v note="$WL_NOTE" -v n="$WL_USERS" -v par="$WL_PARALLEL" '
    function median(list,   a, k, i, j, t) {
      k = split(list, a, " "); if (k == 0) return "-"
      for (i = 2; i <= k; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    function add(key, v) { if (v != "-" && v != "") vals[key] = vals[key] " " v }
    $1 == wl { s = $2; add(s "acc/s", $8); add(s "p50", $9); add(s "p99", $10); add(s "rss", $11); add(s "cpu", $12); add(s "lcpu", $14); add(s "us", $15)
               accepted[s] += $5; total[s] += $4; runs[s]++ }
    function num(v, fmt) { return v == "-" ? "-" : sprintf(fmt, v) }
    END {
      og = median(vals["otpgateacc/s"]); fr = median(vals["freeradiusacc/s"])
      ratio = (og == "-" || fr == "-" || fr <= 0) ? "-" : sprintf(og / fr >= 0.1 ? "%.2f" : "%.2g", og / fr)
      printf "%s: otpgate %s/s, freeradius %s/s, ratio %s; ", wl, num(og, "%.0f"), num(fr, "%.0f"), ratio
      printf "p50 otpgate %s ms freeradius %s ms; ", num(median(vals["otpgatep50"]), "%.2f"), num(median(vals["freeradiusp50"]), "%.2f")
      printf "p99 otpgate %s ms freeradius %s ms; ", num(median(vals["otpgatep99"]), "%.2f"), num(median(vals["freeradiusp99"]), "%.2f")
      rss_og = median(vals["otpgaterss"]); rss_fr = median(vals["freeradiusrss"])
      printf "RSS otpgate %s MiB freeradius %s MiB; ", num(rss_og == "-" ? "-" : rss_og / 1024, "%.0f"), num(rss_fr == "-" ? "-" : rss_fr / 1024, "%.0f")
      printf "CPU otpgate %s%% freeradius %s%% of one core; ", num(median(vals["otpgatecpu"]), "%.0f"), num(median(vals["freeradiuscpu"]), "%.0f")
      printf "CPU per request otpgate %s us freeradius %s us", num(median(vals["otpgateus"]), "%.1f"), num(median(vals["freeradiusus"]), "%.1f")
      if (vals["otpgatelcpu"] != "" || vals["freeradiuslcpu"] != "")
        printf "; their slapd %s%% and %s%%", num(median(vals["otpgatelcpu"]), "%.0f"), num(median(vals["freeradiuslcpu"]), "%.0f")
      printf "\n"
      printf "  (%s users, %s in flight, medians of %d+%d runs; accepted otpgate %d/%d freeradius %d/%d; %s)\n", n, par, runs["otpgate"], runs["freeradius"], accepted["otpgate"], total["otpgate"], accepted["freeradius"], total["freeradius"], note
    }' "$out/runs.tsv"
}

# --- main ---------------------------------------------------------------------------------------------------------
printf 'workload\tside\trun\tusers\taccepted\trejected\tlost\taccepted_per_s\tp50_ms\tp99_ms\tpeak_rss_kb\tcpu_pct\tload_s\tslapd_cpu_pct\tcpu_us_per_request\n' > "$out/runs.tsv"
log "otpgate vs FreeRADIUS bench, $(date -Is); results in $out"
log "  $(machine_line)," \
  "$(freeradius -v 2>/dev/null | sed -n 's/^radiusd: FreeRADIUS Version \([0-9.]*\).*/FreeRADIUS \1/p' | head -1)"
log "  $(code_line)" \
  "load generator $LOADGEN, users $users, parallel $parallel, runs $runs, port $port, workloads: $workloads"

summaries=()
for wl in $workloads; do
  declare -F "wl_$wl" >/dev/null || { echo "unknown workload: $wl (known: $(declare -F | sed -n 's/^declare -f wl_\([a-z]*\)$/\1/p' | tr '\n' ' '))" >&2; exit 2; }
  "wl_$wl"
  log ""
  log "== $wl: $WL_USERS users, $WL_PARALLEL in flight, $runs runs per side, alternating; $WL_NOTE"
  ! declare -F "wl_${wl}_setup" >/dev/null || "wl_${wl}_setup"
  data=$(prepare_cache "$WL_USERS" "$LOADER_MODE")
  for i in $(seq "$runs"); do
    run_freeradius "$wl" "$i"
    run_otpgate "$wl" "$i" "$data"
  done
  ! declare -F "wl_${wl}_teardown" >/dev/null || "wl_${wl}_teardown"
  summaries+=("$(summarize "$wl")")
done

log ""
log "== summary (medians; the ratio is what to compare: absolute figures vary between machines and sessions)"
for s in "${summaries[@]}"; do log "$s"; done
