#!/usr/bin/env python3
"""Two more reverse-proxy scenarios in the manner of ../shared/bench/bench.py
(issue 18), bellhop against nginx (and Caddy when CADDY names it):

  many_upstreams  16 plain upstreams, least-connections balancing
  tls_upstream    HTTPS to a TLS upstream (certificate not verified)

The upstreams are one nginx answering on 16 plain ports and one TLS port.
Servers run one at a time, for several rounds; the figures are medians of
requests/s, p99, peak RSS and the server's own CPU time per request, with
bench.py's measuring functions (imported from BENCH_DIR, default
../shared/bench).

  python3 tools/bench_proxy.py --ours 'target/release/bellhop run --config {config}'
      [--only many_upstreams,tls_upstream] [--servers ours,nginx,caddy]
      [--rounds 3] [--seconds 5] [--conns 64]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.environ.get('BENCH_DIR', os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'bench')))
import bench  # noqa: E402

UPSTREAMS = [19100 + i for i in range(16)]
TLS_UPSTREAM = 19200
PORTS = {'ours': 18300, 'nginx': 18200, 'caddy': 18100}


def upstreams_conf(prefix, tls_dir):
    plain = ' '.join(f'listen {p};' for p in UPSTREAMS)
    return f"""worker_processes 1;
pid {prefix}/upstreams.pid;
error_log {prefix}/upstreams-error.log crit;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000000;
  server {{ {plain} location / {{ default_type text/plain; return 200 "{bench.BODY}"; }} }}
  server {{ listen {TLS_UPSTREAM} ssl; ssl_certificate {tls_dir}/cert.pem; ssl_certificate_key {tls_dir}/key.pem;
    location / {{ default_type text/plain; return 200 "{bench.BODY}"; }} }}
}}
"""


def caddyfile(scenario, port):
    g = '{\n\tadmin off\n\tauto_https off\n\tlog {\n\t\tlevel ERROR\n\t}\n}\n'
    if scenario == 'many_upstreams':
        ups = ' '.join(f'127.0.0.1:{p}' for p in UPSTREAMS)
        body = f'\treverse_proxy {ups} {{\n\t\tlb_policy least_conn\n\t}}\n'
    else:
        body = (f'\treverse_proxy https://127.0.0.1:{TLS_UPSTREAM} {{\n\t\ttransport http {{\n'
                f'\t\t\ttls_insecure_skip_verify\n\t\t}}\n\t}}\n')
    return g + f':{port} {{\n{body}}}\n'


def nginx_conf(scenario, port, prefix):
    if scenario == 'many_upstreams':
        servers = ' '.join(f'server 127.0.0.1:{p};' for p in UPSTREAMS)
        upstream = f'upstream backend {{ least_conn; {servers} keepalive 64; }}'
        loc = 'proxy_pass http://backend;'
    else:
        upstream = f'upstream backend {{ server 127.0.0.1:{TLS_UPSTREAM}; keepalive 64; }}'
        loc = 'proxy_pass https://backend; proxy_ssl_verify off; proxy_ssl_session_reuse on;'
    return f"""worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log crit;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000000; {upstream}
  server {{ listen {port}; location / {{ {loc} proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
}}
"""


def start(server, scenario, work, ours_cmd):
    port = PORTS[server]
    d = os.path.join(work, f'{server}-{scenario}')
    os.makedirs(d, exist_ok=True)
    log = open(os.path.join(d, 'server.log'), 'w')
    if server == 'nginx':
        conf = os.path.join(d, 'nginx.conf')
        open(conf, 'w').write(nginx_conf(scenario, port, d))
        cmd = ['nginx', '-p', d, '-c', conf, '-g', 'daemon off;']
    else:
        conf = os.path.join(d, 'Caddyfile')
        open(conf, 'w').write(caddyfile(scenario, port))
        if server == 'caddy':
            cmd = [os.environ.get('CADDY', 'caddy'), 'run', '--config', conf, '--adapter', 'caddyfile']
        else:
            cmd = [a.replace('{config}', conf) for a in ours_cmd.split()]
    env = dict(os.environ, HOME=d, XDG_DATA_HOME=d, XDG_CONFIG_HOME=d)
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=d, env=env)
    if not bench.wait_port(port):
        p.terminate()
        p.wait()
        sys.stderr.write(f'{server} did not start for {scenario}; see {d}/server.log\n')
        return None, port
    time.sleep(0.3)
    return p, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ours', required=True)
    ap.add_argument('--only', default='many_upstreams,tls_upstream')
    ap.add_argument('--servers', default='ours,nginx')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--seconds', type=int, default=5)
    ap.add_argument('--conns', type=int, default=64)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix='bench-proxy-')
    os.chmod(work, 0o755)
    tls_dir = os.path.join(work, 'tls')
    os.makedirs(tls_dir)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                    '-nodes', '-keyout', f'{tls_dir}/key.pem', '-out', f'{tls_dir}/cert.pem', '-days', '30',
                    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'],
                   check=True, capture_output=True)
    uconf = os.path.join(work, 'upstreams.conf')
    open(uconf, 'w').write(upstreams_conf(work, tls_dir))
    ups = subprocess.Popen(['nginx', '-p', work, '-c', uconf, '-g', 'daemon off;'])
    for p in UPSTREAMS + [TLS_UPSTREAM]:
        bench.wait_port(p)
    results = {}
    try:
        for scenario in a.only.split(','):
            for _ in range(a.rounds):
                for server in a.servers.split(','):
                    p, port = start(server, scenario, work, a.ours)
                    if p is None:
                        continue
                    try:
                        bench.load('proxy', port, 1, a.conns)
                        cpu0 = bench.cpu_seconds(p.pid)
                        rps, p99, errs = bench.load('proxy', port, a.seconds, a.conns)
                        cpu1 = bench.cpu_seconds(p.pid)
                        n = rps * a.seconds
                        cpu_us = (cpu1 - cpu0) / n * 1e6 if n and n == n else float('nan')
                        rss = bench.peak_rss_kib(p.pid)
                    finally:
                        bench.stop(p)
                    results.setdefault(scenario, {}).setdefault(server, []).append(
                        {'rps': rps, 'p99_ms': p99, 'errors': errs, 'rss_kib': rss, 'cpu_us': cpu_us})
    finally:
        bench.stop(ups)
    print(f'{"scenario":16}{"server":8}{"req/s":>12}{"p99 ms":>10}{"errors":>8}{"peak RSS MiB":>14}{"CPU us/req":>12}')
    for scenario, by in results.items():
        med = {}
        for server, runs in by.items():
            m = {k: statistics.median([r[k] for r in runs]) for k in ('rps', 'p99_ms', 'rss_kib', 'cpu_us')}
            m['errors'] = sum(r['errors'] for r in runs)
            med[server] = m
            print(f'{scenario:16}{server:8}{m["rps"]:12.0f}{m["p99_ms"]:10.2f}{m["errors"]:8d}'
                  f'{m["rss_kib"] / 1024:14.1f}{m["cpu_us"]:12.1f}')
        if 'ours' in med and 'nginx' in med:
            print(f'RATIO {scenario} ours/nginx={med["ours"]["rps"] / med["nginx"]["rps"]:.2f} '
                  f'cpu_per_req nginx/ours={med["nginx"]["cpu_us"] / med["ours"]["cpu_us"]:.2f}')
    shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
