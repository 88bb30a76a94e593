#!/usr/bin/env bash
# What bench.py's static_large measures: the load client's own CPU.
# Serves a 1 MiB file (bench.py's static_large: `root` + `file_server`, wrk
# -t1 -c64) with bellhop, then with Caddy, ROUNDS times each, and reports
# per server: requests/s, wrk's CPU per response, the share of one core
# wrk used, and the server's CPU per response.
# wrk reads 8 KiB per read(2) plus one FIONREAD ioctl: 256 syscalls per
# 1 MiB response at the least. When wrk's single thread is at one core,
# requests/s is 1 / (wrk's CPU per response), whatever the server does.
# Usage: tools/bench-client-cost.sh [SECONDS]; BIN= to use a built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${ROUNDS:-2}
target=${CARGO_TARGET_DIR:-target}
[ -n "${BIN:-}" ] || cargo build --release -q --bin bellhop
bin=$(realpath "${BIN:-$target/release/bellhop}")
. tools/bench-common.sh
port=$(free_port)
mkdir "$dir/www"
head -c 1048576 /dev/urandom > "$dir/www/large.bin"
printf '{\n\tadmin off\n\tskip_install_trust\n\tlog {\n\t\tlevel ERROR\n\t}\n\tauto_https off\n}\n:%s {\n\troot * %s\n\tfile_server\n}\n' \
	"$port" "$dir/www" > "$dir/Caddyfile"
url="http://127.0.0.1:$port/large.bin"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() {
	local name=$1
	shift
	XDG_CONFIG_HOME=$dir/xdg XDG_DATA_HOME=$dir/xdg "$@" > "$dir/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do curl -fso /dev/null "$url" && break; sleep 0.1; done
	wrk -t1 -c64 -d1s "$url" > /dev/null
	local s0 s1
	s0=$(cpu_ticks "$pid")
	python3 - "$secs" "$url" > "$dir/out" <<'PY'
import re, resource, subprocess, sys, time
secs, url = sys.argv[1], sys.argv[2]
t = time.monotonic()
out = subprocess.run(["wrk", "-t1", "-c64", f"-d{secs}s", url], capture_output=True, text=True).stdout
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
n = int(re.search(r"(\d+) requests in", out).group(1))
print(n, ru.ru_utime + ru.ru_stime, wall)
PY
	s1=$(cpu_ticks "$pid")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	read -r n wrk_cpu wall < "$dir/out"
	python3 -c "n, c, w, s = $n, $wrk_cpu, $wall, $((s1 - s0)) / 100
print(f'$name: {n / w:7.0f} req/s; wrk {c * 1e6 / n:4.0f} us CPU per response, {100 * c / w:3.0f}% of a core; server {s * 1e6 / n:4.0f} us per response')"
}
for _ in $(seq "$rounds"); do
	measure bellhop "$bin" run --config "$dir/Caddyfile"
	if command -v caddy > /dev/null; then
		measure caddy caddy run --config "$dir/Caddyfile" --adapter caddyfile
	fi
done
