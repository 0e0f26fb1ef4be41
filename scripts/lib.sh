# Shared by scripts/*.sh and bench/*.sh: make sure a supported Node.js (24 or newer) runs everything, find or install
# pnpm 10, then install the workspace with its native modules built for that Node.
#
# A machine whose `node` is older than 24 (Debian 12 ships 18, many images still carry 20) gets Node 26 LTS from the
# npm registry (the `node-linux-<arch>` package, which brings the binary and its headers) in `.runtime/` inside the
# checkout, outside git. Nothing is installed system-wide; a machine with Node 24 or 26 on its PATH skips all of it.
# corepack cannot be used here (the registry serves no signatures); npm installs pnpm directly.

OTPGATE_NODE_VERSION=26.12.1
OTPGATE_NODE_MIN_MAJOR=24

# Puts a Node.js >= 24 first on PATH and points native builds at its headers (npm_config_nodedir).
ensure_node() {
  local root major arch dir
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge "$OTPGATE_NODE_MIN_MAJOR" ]; then return 0; fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "no Node.js >= $OTPGATE_NODE_MIN_MAJOR here and no npm build of Node for $(uname -m): install Node.js 26 yourself" >&2; return 1 ;;
  esac
  dir="$root/.runtime/node-$OTPGATE_NODE_VERSION"
  if [ ! -x "$dir/node_modules/node-linux-$arch/bin/node" ]; then
    command -v npm >/dev/null || { echo "neither Node.js >= $OTPGATE_NODE_MIN_MAJOR nor npm is installed: install Node.js 26" >&2; return 1; }
    echo "node $(node -v 2>/dev/null || echo missing) is older than $OTPGATE_NODE_MIN_MAJOR: installing Node.js $OTPGATE_NODE_VERSION into .runtime/" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-linux-$arch@$OTPGATE_NODE_VERSION" >&2
  fi
  export PATH="$dir/node_modules/node-linux-$arch/bin:$PATH"
  export npm_config_nodedir="$dir/node_modules/node-linux-$arch"
}

# pnpm 10 on PATH (a global npm install when allowed, npx otherwise).
ensure_pnpm() {
  command -v pnpm >/dev/null 2>&1 && return 0
  if [ -w "$(npm prefix -g)/lib" ] 2>/dev/null || [ "$(id -u)" = 0 ]; then
    npm install -g --no-audit --no-fund pnpm@10 >/dev/null
  else
    # no rights for a global install: run pnpm through npx
    pnpm() { npx --yes pnpm@10 "$@"; }
  fi
}

# Native modules are built for the Node that runs them: `pnpm install` alone keeps a build made for another Node
# (an earlier checkout under Node 20, say), so the ABI the build was made for is recorded and checked.
rebuild_native_modules() {
  local abi stamp=node_modules/.otpgate-native-abi
  abi=$(node -p 'process.versions.modules')
  if [ "$(cat "$stamp" 2>/dev/null)" != "$abi" ] || ! node -e "new (require('./packages/core/node_modules/better-sqlite3'))(':memory:'); require('./packages/core/node_modules/argon2')" 2>/dev/null; then
    echo "building better-sqlite3 and argon2 for node $(node -v) (ABI $abi)" >&2
    pnpm rebuild better-sqlite3 argon2 >&2
    echo "$abi" >"$stamp"
  fi
}

pnpm_install_workspace() {
  ensure_node
  ensure_pnpm
  if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile; else pnpm install; fi
  rebuild_native_modules
}
