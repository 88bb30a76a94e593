#!/usr/bin/env bash
# Adapting a 10,000-site Caddyfile: whole-process time of `bellhop adapt`
# against `caddy adapt` on the same file (median of runs), and the ratio.
# Usage: tools/bench-adapt.sh [SITES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
sites=${1:-10000}
runs=${2:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$sites" > "$dir/Caddyfile" <<'PY'
import sys
n = int(sys.argv[1])
print("{\n\tauto_https off\n}\n")
for i in range(n):
    print(f"""site{i}.example.com:8080 {{
	encode gzip
	header X-Site {i}
	@api path /api/*
	reverse_proxy @api 127.0.0.1:{9000 + i % 100}
	respond /health "ok {i}" 200
}}
""")
PY
cargo build --release -q --bin bellhop
bin=${CARGO_TARGET_DIR:-target}/release/bellhop
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() {
	for _ in $(seq "$runs"); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" > /dev/null 2>&1
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000000 ))
	done | median
}
ours=$(time_cmd "$bin" adapt --config "$dir/Caddyfile")
echo "bellhop adapt, $sites sites: ${ours} ms (median of $runs)"
if command -v caddy >/dev/null; then
	theirs=$(time_cmd caddy adapt --config "$dir/Caddyfile" --adapter caddyfile)
	echo "caddy adapt,   $sites sites: ${theirs} ms (median of $runs)"
	python3 -c "print(f'RATIO adapt_10k caddy/bellhop={$theirs / max($ours, 1):.1f}x faster')"
fi
