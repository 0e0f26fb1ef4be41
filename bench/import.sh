#!/usr/bin/env bash
# Import speed: ROWS users (users CSV, each with a token) and then ROWS hardware tokens (Azure OATH CSV) assigned to
# them, through the real `otpgate` command on a fresh node: preview alone, then preview + commit. The goal is
# 100,000 rows in under 30 s each (issue 9).
# Usage: bench/import.sh [ROWS=100000]      SKIP_BUILD=1 skips building packages/; KEEP=1 keeps the node and the files
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rows=${1:-100000}
out=$here/results/import-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

if [ "${SKIP_BUILD:-}" != 1 ]; then
  (cd "$root" && npx tsc -b packages/cli) || { echo "building packages/ failed (SKIP_BUILD=1 runs the dist as it is)" >&2; exit 1; }
fi
(cd "$root" && npx tsc -p bench/tsconfig.json)
node "$here/results/build/import-data.js" "$rows" "$out"

cat >"$out/otpgate.yaml" <<YAML
node:
  name: import-bench
  data_dir: data
radius:
  listen: ["127.0.0.1:0"]
log:
  level: warn
YAML
og() { node "$root/packages/cli/dist/main.js" -c "$out/otpgate.yaml" "$@"; }
echo "bench-admin-password" | og init --admin-password-stdin >/dev/null
og group add vpn >/dev/null
og group add staff >/dev/null

# wall-clock and CPU (user + system) seconds of one command, its output kept in $out; CPU time is the figure to
# trust on a busy machine (others' benchmarks share the 2 cores)
timed() {
  local name=$1; shift
  local TIMEFORMAT='%R %U %S' t
  t=$( { time og "$@" --json >"$out/$name.json" 2>"$out/$name.err" || true; } 2>&1 )
  awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.2f %.2f", a[1], a[2] + a[3] }'
}

report() {
  local wall cpu
  read -r wall cpu <<<"$2"
  printf '%-30s %7.2f s wall %7.2f s CPU\n' "$1" "$wall" "$cpu" | tee -a "$out/summary.txt"
}

echo "rows: $rows  (node $(node --version), $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg))" | tee "$out/summary.txt"
report "users-csv preview" "$(timed users-preview import users-csv "$out/users.csv")"
report "users-csv preview + commit" "$(timed users-commit import users-csv "$out/users.csv" --commit)"
report "azure-csv preview" "$(timed azure-preview import azure-csv "$out/azure.csv" --strip-domain)"
report "azure-csv preview + commit" "$(timed azure-commit import azure-csv "$out/azure.csv" --strip-domain --commit)"
node -e '
  const r = (f) => JSON.parse(require("fs").readFileSync(f, "utf8")).result;
  for (const f of ["users-commit", "azure-commit"]) {
    const x = r(process.argv[1] + "/" + f + ".json");
    console.log(`${f}: ${JSON.stringify(x.written)}, ${x.changes} change log entries, head ${x.head_seq}`);
  }' "$out" | tee -a "$out/summary.txt"
# the node (hundreds of MB at 100,000 rows), the inputs and the JSON previews are not kept unless asked for
[ "${KEEP:-}" = 1 ] || rm -rf "$out/data" "$out/users.csv" "$out/azure.csv" "$out"/*.json
echo "results in $out"
