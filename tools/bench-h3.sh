#!/usr/bin/env bash
# HTTP/3 side by side, bellhop against Caddy, with the repo's own client
# (runtime/examples/h3load.rs). ../shared/bench/bench.py measures h3 with
# oha, which cannot connect to Caddy 2.6.2 (see h3load.rs); this runs the
# same scenario (one `respond` site on localhost, TLS from files, h1 h2 h3)
# for ROUNDS rounds, the servers in turn, and prints the median requests/s,
# p99 and peak RSS of each and their ratio.
# Usage: tools/bench-h3.sh [SECONDS] [CONNS]   (ROUNDS=3, BIN=, CADDY=caddy)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-16}
rounds=${ROUNDS:-3}
target=${CARGO_TARGET_DIR:-target}
[ -n "${BIN:-}" ] || cargo build --release -q --bin bellhop
cargo build --release -q -p bellhop-runtime --example h3load
bin="${BIN:-$target/release/bellhop}"
load="$target/release/examples/h3load"
. tools/bench-common.sh
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost 2>/dev/null
caddyfile() {
	printf '{\n\tadmin off\n\tskip_install_trust\n\tlog {\n\t\tlevel ERROR\n\t}\n\thttps_port %s\n\thttp_port %s\n}\n' "$1" "$(($1 + 1))"
	printf 'localhost {\n\ttls %s/cert.pem %s/key.pem\n\trespond "Hello, world!"\n}\n' "$dir" "$dir"
}
caddyfile 18800 > "$dir/Caddyfile.ours"
caddyfile 18810 > "$dir/Caddyfile.caddy"
one() { # server port -> "rps p99 rss_kib"
	if [ "$1" = ours ]; then
		XDG_DATA_HOME=$dir/data "$bin" run --config "$dir/Caddyfile.ours" > "$dir/ours.log" 2>&1 &
	else
		XDG_DATA_HOME=$dir/data HOME=$dir "${CADDY:-caddy}" run --config "$dir/Caddyfile.caddy" --adapter caddyfile > "$dir/caddy.log" 2>&1 &
	fi
	pid=$!
	for _ in $(seq 100); do curl -skf "https://localhost:$2/" >/dev/null 2>&1 && break; sleep 0.1; done
	"$load" "https://localhost:$2/" -c "$conns" -d 1 >/dev/null # warm-up
	out=$("$load" "https://localhost:$2/" -c "$conns" -d "$secs")
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	echo "$out" | awk -v rss="$rss" '{for (i = 1; i <= NF; i++) { if ($i == "req/s,") r = $(i-1); if ($i == "p99") p = $(i+1); if ($i == "errors") e = $(i+1) } print r, p, rss, e}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > "$dir/ours.txt"; : > "$dir/caddy.txt"
for round in $(seq "$rounds"); do
	o=$(one ours 18800); c=$(one caddy 18810)
	echo "round $round: ours $o / caddy $c (req/s p99_ms peak_rss_kib errors)"
	echo "$o" >> "$dir/ours.txt"; echo "$c" >> "$dir/caddy.txt"
done
for s in ours caddy; do
	echo "$s: $(cut -d' ' -f1 "$dir/$s.txt" | median) req/s, p99 $(cut -d' ' -f2 "$dir/$s.txt" | median) ms, peak RSS $(( $(cut -d' ' -f3 "$dir/$s.txt" | median) / 1024 )) MiB"
done
awk -v a="$(cut -d' ' -f1 "$dir/ours.txt" | median)" -v b="$(cut -d' ' -f1 "$dir/caddy.txt" | median)" \
	'BEGIN {printf "RATIO h3 ours/caddy=%.2f\n", a / b}'
