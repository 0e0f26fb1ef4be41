#!/usr/bin/env bash
# Install everything the tests use and run the whole suite (type check, lint, unit and end-to-end tests).
# As root on Debian/Ubuntu it installs the system packages the end-to-end tests drive (radclient, slapd, pamtester...).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

packages=(freeradius-utils slapd ldap-utils libpam-radius-auth pamtester chromium prometheus openssl)
need=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages for the tests: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]} (run as root to install them, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

pnpm_install_workspace
pnpm test
