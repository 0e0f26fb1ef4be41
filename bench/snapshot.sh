# Sourced by the bench scripts. snapshot_code SNAP JS...: the packages are measured from a copy taken now, so that a
# rebuild of packages/*/dist while the bench runs (others work in this tree) cannot change the code between runs;
# dependencies resolve through links. JS... are the bench's own compiled drivers (bench/*.ts) copied alongside.
# SNAPSHOT=<an earlier run's otpgate copy> measures that code instead; SKIP_BUILD=1 copies packages/*/dist as it is.
# Expects $root (the repository), $here (bench/) and $build (where bench/tsconfig.json compiles to); sets $dist_hash.
snapshot_code() {
  local snap=$1 js p name x; shift
  if [ -n "${SNAPSHOT:-}" ]; then
    for x in packages/cli/dist/main.js "${@/#/bench/}"; do
      [ -f "$SNAPSHOT/$x" ] || { echo "SNAPSHOT=$SNAPSHOT is not a copy made by $(basename "$0") (it has no $x)" >&2; exit 2; }
    done
    ln -s "$(cd "$SNAPSHOT" && pwd)" "$snap"
  else
    if [ "${SKIP_BUILD:-}" != 1 ]; then
      (cd "$root" && npx tsc -b packages/cli) || { echo "building packages/ failed (SKIP_BUILD=1 runs the dist as it is)" >&2; exit 1; }
    fi
    (cd "$root" && npx tsc -p bench/tsconfig.json)
    mkdir -p "$snap/packages" "$snap/bench/node_modules/@otpgate"
    for p in "$root"/packages/*/; do
      name=$(basename "$p"); mkdir "$snap/packages/$name"
      for x in package.json dist dictionaries node_modules; do [ ! -e "$p$x" ] || cp -a "$p$x" "$snap/packages/$name/"; done
    done
    ln -s "$root/node_modules" "$snap/node_modules"
    for x in core shared; do ln -s "../../../packages/$x" "$snap/bench/node_modules/@otpgate/$x"; done
    ln -s "$(readlink -f "$here/node_modules/undici")" "$snap/bench/node_modules/undici"
    for js in "$@"; do cp "$build/$js" "$snap/bench/"; done
  fi
  dist_hash=$(cd "$snap/packages" && find . -path '*/dist/*' -name '*.js' | sort | xargs cat | sha256sum | cut -c1-12)
}

# What was measured, for the summaries: the machine, and the commit + dist hash of the copy.
machine_line() { echo "machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), node $(node --version)"; }
code_line() {
  echo "otpgate: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- packages || echo ' + uncommitted changes in packages/'), dist $dist_hash${SNAPSHOT:+ (snapshot $SNAPSHOT)},"
}
