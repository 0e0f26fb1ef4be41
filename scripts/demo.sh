#!/usr/bin/env bash
# Install, build and start a demo otpgate node on 127.0.0.1:1812 with a demo user whose token is printed as a QR code.
# Extra arguments go to `otpgate demo` (e.g. --listen 127.0.0.1:11812, --dir /tmp/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
pnpm_install_workspace >&2
pnpm run --silent build >&2
exec node packages/cli/dist/main.js demo "$@"
