# Shared by scripts/*.sh: find or install pnpm 10, then install the workspace.
# corepack cannot be used here (the registry serves no signatures); npm installs pnpm directly.
pnpm_install_workspace() {
  if ! command -v pnpm >/dev/null 2>&1; then
    if [ -w "$(npm prefix -g)/lib" ] 2>/dev/null || [ "$(id -u)" = 0 ]; then
      npm install -g pnpm@10 >/dev/null
    else
      # no rights for a global install: run pnpm through npx
      pnpm() { npx --yes pnpm@10 "$@"; }
    fi
  fi
  if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile; else pnpm install; fi
}
