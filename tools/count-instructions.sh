#!/usr/bin/env bash
# User-space instructions per request, bellhop and nginx, counted by
# valgrind's callgrind: repeatable to about 0.5% for the same binary,
# where CPU time per request on a shared 2-core machine moves by 5-10%
# from run to run. For issue 18's small steps: a change that saves 3%
# shows here and not in bench.py.
#
#   tools/count-instructions.sh BELLHOP [respond|proxy|static_small] [REQUESTS]
#
# Each server runs under callgrind in turn (nginx with one worker and no
# master process), gets 2,000 requests to warm up, then its counters are
# zeroed and REQUESTS (10,000 by default) are sent with `h2load --h1 -c8`;
# the total is divided by REQUESTS. proxy's upstream is an nginx outside
# callgrind; static_small serves bench.py's page of 4,093 bytes. Needs
# valgrind, h2load (nghttp2-client) and nginx. Kernel time is not
# counted: compare system time with bench.py.
set -euo pipefail
bin=$(realpath "${1:?usage: $0 BELLHOP [respond|proxy|static_small] [REQUESTS]}")
scenario=${2:-proxy}
n=${3:-10000}
here=$(dirname "$0")
. "$here/bench-common.sh"
backend_pid=""
trap 'if [ -n "$backend_pid" ]; then kill "$backend_pid" 2>/dev/null || true; fi; cleanup' EXIT
for tool in valgrind callgrind_control h2load nginx; do
	command -v "$tool" > /dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }
done

backend=$(free_port)
path=""
if [ "$scenario" = proxy ]; then
	cat > "$dir/backend.conf" <<EOF
worker_processes 1; pid $dir/backend.pid; error_log $dir/backend.log crit;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$backend;
  location / { default_type text/plain; return 200 "Hello, World! This is a benchmark response body."; } } }
EOF
	nginx -c "$dir/backend.conf" -p "$dir"
	sleep 0.3
	backend_pid=$(cat "$dir/backend.pid")
	ours_site="reverse_proxy 127.0.0.1:$backend"
	nginx_site="location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
	nginx_upstream="upstream b { server 127.0.0.1:$backend; keepalive 64; }"
elif [ "$scenario" = static_small ]; then
	mkdir "$dir/www"
	python3 -c "open('$dir/www/small.html', 'w').write('<p>' + 'x' * 4089 + '\\n')"
	ours_site="root * $dir/www
	file_server"
	nginx_site="location / { root $dir/www; }"
	nginx_upstream=""
	path=small.html
elif [ "$scenario" = respond ]; then
	ours_site='respond "Hello, World!"'
	nginx_site='location / { default_type text/plain; return 200 "Hello, World!"; }'
	nginx_upstream=""
else
	echo "$0: scenario must be respond, proxy or static_small" >&2
	exit 2
fi

# count NAME PORT COMMAND...: instructions per request of COMMAND.
count() {
	local name=$1 port=$2
	shift 2
	valgrind --tool=callgrind --callgrind-out-file="$dir/$name.%p" "$@" > "$dir/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 120); do
		curl -s -o /dev/null "http://127.0.0.1:$port/$path" && break
		sleep 0.5
	done
	h2load --h1 -n 2000 -c 8 "http://127.0.0.1:$port/$path" > /dev/null
	callgrind_control -z "$pid" > /dev/null 2>&1
	h2load --h1 -n "$n" -c 8 "http://127.0.0.1:$port/$path" | grep -q "$n succeeded" ||
		{ echo "$0: $name did not answer all $n requests" >&2; exit 1; }
	callgrind_control -d "$pid" > /dev/null 2>&1
	sleep 0.5
	local total
	total=$(awk '/^summary:/ {print $2}' "$dir/$name.$pid.1")
	kill "$pid"
	wait "$pid" 2> /dev/null || true
	pid=""
	printf '%-8s %s %8d instructions per request\n' "$name" "$scenario" $((total / n))
}

ours=$(free_port)
cat > "$dir/Caddyfile" <<EOF
{
	admin off
	auto_https off
	log {
		level ERROR
	}
}
:$ours {
	$ours_site
}
EOF
count bellhop "$ours" "$bin" run --config "$dir/Caddyfile"

theirs=$(free_port)
cat > "$dir/nginx.conf" <<EOF
worker_processes 1; master_process off; daemon off;
pid $dir/nginx.pid; error_log $dir/nginx-error.log crit;
events { worker_connections 1024; }
http { access_log off; $nginx_upstream
  server { listen 127.0.0.1:$theirs; $nginx_site } }
EOF
count nginx "$theirs" nginx -c "$dir/nginx.conf" -p "$dir"
