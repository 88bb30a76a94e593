#!/usr/bin/env bash
# Runs the cargo-fuzz targets: the runtime's (runtime/fuzz: request,
# template, placeholders, expression, goregex, config, path_matchers,
# h1_head) and the adapter's (adapter/fuzz: syntax), each for SECONDS
# (default 30), starting from the committed seeds
# (runtime/fuzz/seeds/TARGET) plus what earlier runs found
# (runtime/fuzz/corpus, ignored by git). Needs the nightly toolchain and
# cargo-fuzz; without them it says so and exits 0 unless FUZZ_REQUIRED=1.
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${1:-30}
shift || true
if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo fuzz --version >/dev/null 2>&1; then
	if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo install -q --locked cargo-fuzz; then
		echo "tools/fuzz.sh: the nightly toolchain or cargo-fuzz is missing; fuzzing skipped" >&2
		[ "${FUZZ_REQUIRED:-0}" = 1 ] && exit 1
		exit 0
	fi
fi
# glibc's thread-local destructor registration reads as a leak to LSan
# (see the file); any other leak fails the run like a crash.
export LSAN_OPTIONS="suppressions=$PWD/runtime/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
runtime_targets=(request template placeholders expression goregex config path_matchers h1_head)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${runtime_targets[@]}" syntax)
# FUZZ_CODEGEN_UNITS and FUZZ_SANITIZER (CI sets both: 16 and none) trade
# fuzzing speed and AddressSanitizer's checks for a build about half as
# long; cargo-fuzz's defaults are one unit and ASan.
flags=()
[ -n "${FUZZ_CODEGEN_UNITS:-}" ] && flags+=(--codegen-units "$FUZZ_CODEGEN_UNITS")
[ -n "${FUZZ_SANITIZER:-}" ] && flags+=(--sanitizer "$FUZZ_SANITIZER")
log=$(mktemp)
# Targets that provision configs open the files those configs name; they
# work under TMPDIR (see runtime/fuzz/fuzz_targets/config.rs), removed here.
scratch=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$scratch"' EXIT
# Builds every target of a crate at once (in parallel, one link each); a
# build error fails the run instead of reading as "nothing found".
dirs=()
for t in "${targets[@]}"; do
	if [ "$t" = syntax ]; then dirs+=(adapter/fuzz); else dirs+=(runtime/fuzz); fi
done
for dir in $(printf '%s\n' "${dirs[@]}" | sort -u); do
	echo "== fuzz build $dir"
	if ! (cd "$dir" && cargo +nightly fuzz build -O "${flags[@]}" >"$log" 2>&1); then
		tail -40 "$log" >&2
		echo "tools/fuzz.sh: building $dir failed" >&2
		exit 1
	fi
done
for t in "${targets[@]}"; do
	if [ "$t" = syntax ]; then dir=adapter/fuzz; else dir=runtime/fuzz; fi
	corpus="$dir/corpus/$t"
	mkdir -p "$corpus"
	if [ -d "$dir/seeds/$t" ]; then cp -n "$dir/seeds/$t"/* "$corpus/" 2>/dev/null || true; fi
	echo "== fuzz $t (${secs}s)"
	status=0
	(cd "$dir" && TMPDIR="$scratch" cargo +nightly fuzz run -O "${flags[@]}" "$t" "$root/$corpus" -- \
		-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1) >"$log" 2>&1 || status=$?
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)|SUMMARY|panicked|ERROR' "$log" || true
	if [ -n "$(find "$dir/artifacts/$t" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) 2>/dev/null)" ]; then
		echo "tools/fuzz.sh: $t found a failing input:" >&2
		ls "$dir/artifacts/$t" >&2
		exit 1
	fi
	# A run that ended without libFuzzer's final stats did not fuzz.
	if [ "$status" != 0 ] || ! grep -q '^stat::number_of_executed_units: *[1-9]' "$log"; then
		tail -40 "$log" >&2
		echo "tools/fuzz.sh: fuzzing $t did not run to its end (exit $status)" >&2
		exit 1
	fi
done
