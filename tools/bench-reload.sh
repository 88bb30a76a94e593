#!/usr/bin/env bash
# Reload speed: time from `POST /load` to its answer for a config of SITES
# sites (two variants alternated, so each load really reloads), then
# requests/s (wrk) with no reloads against a reload every 100 ms (started
# on a fixed schedule over one keep-alive admin connection, alternating
# the two variants; a reload that takes longer delays the next).
# Usage: tools/bench-reload.sh [SITES] [LOADS] [SECONDS]
# Uses $CARGO_TARGET_DIR (default target/) for the release build, or the
# binary $BIN. ROUNDS (default 3) pairs of runs, without and with reloads;
# NOOP=1 reloads the same config each time (a no-op: the harness's cost).
set -euo pipefail
cd "$(dirname "$0")/.."
sites=${1:-1000}
loads=${2:-30}
secs=${3:-10}
rounds=${ROUNDS:-3}
target=${CARGO_TARGET_DIR:-target}
dir=$(mktemp -d)
pid=""
reloader=""
cleanup() {
	[ -n "$reloader" ] && kill "$reloader" 2>/dev/null || true
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ -n "${KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin="127.0.0.1:$(free_port)"
for variant in a b; do
	python3 - "$sites" "$port" "$variant" > "$dir/Caddyfile.$variant" <<'PY'
import sys
n, port, v = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print(f"""http://site{i}.example.com:{port} {{
	header X-Site {i}
	@api path /api/*
	respond @api "api {i} {v}"
	respond "site {i} {v}"
}}
""")
PY
done
[ -n "${BIN:-}" ] || cargo build --release -q --bin bellhop
bin="${BIN:-$target/release/bellhop}"
"$bin" adapt --config "$dir/Caddyfile.a" > "$dir/a.json" 2>/dev/null
"$bin" adapt --config "$dir/Caddyfile.b" > "$dir/b.json" 2>/dev/null
BELLHOP_ADMIN=$admin XDG_CONFIG_HOME=$dir/xdg BELLHOP_LOG=info \
	"$bin" run --config "$dir/a.json" 2> "$dir/run.log" &
pid=$!
for _ in $(seq 100); do curl -fs "http://$admin/config/admin" >/dev/null 2>&1 && break; sleep 0.1; done
load() {
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H 'Expect:' \
		-H 'Content-Type: application/json' --data-binary "@$dir/$1.json" "http://$admin/load"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in $(seq "$loads"); do
	if [ $((i % 2)) = 1 ]; then load b; else load a; fi
done > "$dir/loads.txt"
if grep -qv '^200 ' "$dir/loads.txt"; then
	echo "a load failed:" >&2; grep -v '^200 ' "$dir/loads.txt" >&2; exit 1
fi
ms=$(awk '{printf "%.1f\n", $2 * 1000}' "$dir/loads.txt" | median)
max=$(awk '{printf "%.1f\n", $2 * 1000}' "$dir/loads.txt" | sort -n | tail -1)
size=$(wc -c < "$dir/a.json")
echo "POST /load, $sites sites ($size bytes of JSON): median ${ms} ms, max ${max} ms over $loads reloads"
grep -o 'decode_ms=[0-9.]* provision_ms=[0-9.]*' "$dir/run.log" | tail -3 | sed 's/^/  in the server: /' || true
curl -fs -H "Host: site7.example.com:$port" "http://127.0.0.1:$port/" >/dev/null
rps() { awk '/Requests\/sec/ {print $2}'; }
bench() { wrk -t2 -c50 -d"${secs}s" -H "Host: site7.example.com:$port" "http://127.0.0.1:$port/"; }
# Rounds alternate a run without reloads and one with, so a drift of the
# machine's speed hits both alike; the figure is the median ratio.
: > "$dir/ratios.txt"
: > "$dir/during.txt"
for round in $(seq "$rounds"); do
	steady=$(bench | tee -a "$dir/wrk.txt" | rps)
	before=$(wc -l < "$dir/during.txt")
	python3 - "$admin" "$dir/a.json" "$dir/b.json" "${NOOP:-}" <<'PY' >> "$dir/during.txt" &
# One keep-alive connection; a load starts every 100 ms on a fixed schedule
# (the next one at once when a load took longer). Prints "code seconds".
import http.client, signal, sys, time
admin, a, b, noop = sys.argv[1:5]
bodies = [open(a, "rb").read(), open(b, "rb").read()]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
conn = http.client.HTTPConnection(admin)
headers = {"Content-Type": "application/json"}
i, start = 0, time.monotonic()
while True:
    t = time.monotonic()
    conn.request("POST", "/load", bodies[0 if noop else (i + 1) % 2], headers)
    r = conn.getresponse()
    r.read()
    print(r.status, round(time.monotonic() - t, 4), flush=True)
    i += 1
    time.sleep(max(0.0, start + i * 0.1 - time.monotonic()))
PY
	reloader=$!
	during=$(bench | tee -a "$dir/wrk.txt" | rps)
	kill "$reloader"; wait "$reloader" 2>/dev/null || true; reloader=""
	n=$(( $(wc -l < "$dir/during.txt") - before ))
	echo "round $round: no reloads ${steady} req/s; with $n reloads in ${secs}s (of $((secs * 10)) scheduled) ${during} req/s"
	awk -v a="$steady" -v b="$during" 'BEGIN {printf "%.1f\n", 100 * b / a}' >> "$dir/ratios.txt"
done
bad=$(grep -cv '^200 ' "$dir/during.txt" || true)
errs=$(grep -h 'Socket errors\|Non-2xx' "$dir/wrk.txt" || true)
under=$(awk '{printf "%.1f\n", $2 * 1000}' "$dir/during.txt" | median)
slowest=$(awk '{printf "%.1f\n", $2 * 1000}' "$dir/during.txt" | sort -n | tail -1)
echo "reloads while serving: $(wc -l < "$dir/during.txt") ($bad failed), median ${under} ms each, slowest ${slowest} ms${NOOP:+ (NOOP: identical config, a no-op)}"
echo "throughput during reloads: $(median < "$dir/ratios.txt")% of steady state (median of $rounds rounds: $(tr '\n' ' ' < "$dir/ratios.txt"))"
[ -z "$errs" ] || echo "wrk reported: $errs"
