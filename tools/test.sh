#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need
# (Debian packages used as real peers: caddy for reference, pebble as the
# ACME server, nginx and curl as real clients and backends, openssl as an
# OCSP responder and a client that asks for staples, python3 as a foreign
# process holding a port, redis-server as shared storage for a fleet,
# chromium as the browser that renders the file browser page).
# Usage: tools/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg_bin in caddy:caddy chromium:chromium curl:curl openssl:openssl pebble:pebble python3:python3 redis-server:redis-server; do
	pkg=${pkg_bin%%:*}
	bin=${pkg_bin##*:}
	command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "tools/test.sh: installing ${need[*]}" >&2
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	else
		echo "tools/test.sh: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
	fi
fi

exec cargo test --workspace --locked "$@"
