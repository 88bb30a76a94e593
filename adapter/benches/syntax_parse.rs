//! Benchmark of the syntax layer: lexing and parsing a generated
//! Caddyfile of 10,000 site blocks (~80k lines, with a snippet import in
//! each site). Run with `cargo bench -p bellhop-adapter --bench
//! syntax_parse`; prints the best wall time of several runs and, on Linux,
//! the CPU time per parse (which a busy machine inflates less), and fails
//! if the better of the two is not under 100 ms.

use bellhop_adapter::syntax::{parse_with_env, tokenize, SourceFile};
use std::time::{Duration, Instant};

const SITES: usize = 10_000;
const BUDGET: Duration = Duration::from_millis(100);

fn caddyfile() -> String {
    let mut s =
        String::from("{\n\temail admin@example.com\n}\n\n(common) {\n\tencode gzip\n\tlog\n}\n\n");
    for i in 0..SITES {
        s.push_str(&format!(
            "site{i}.example.com, www.site{i}.example.com {{\n\
             \timport common\n\
             \treverse_proxy localhost:{port} {{\n\
             \t\theader_up Host {{host}}\n\
             \t}}\n\
             \theader X-Site \"site {i}\"\n\
             }}\n\n",
            port = 3000 + i % 1000
        ));
    }
    s
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// CPU time of this thread so far (Linux), from `/proc/thread-self/schedstat`.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

fn main() {
    let text = caddyfile();
    let no_env = |_: &str| None;
    let lines = text.lines().count();
    let lex = best_of(5, || {
        tokenize(SourceFile::new("Caddyfile", text.as_str())).map(|t| t.len())
    });
    let parse = best_of(5, || {
        parse_with_env("Caddyfile", &text, &no_env).map(|p| p.blocks.len())
    });
    // CPU time of the parse itself; dropping the result is not counted
    let cpu = (0..10)
        .filter_map(|_| {
            let before = thread_cpu_time()?;
            let parsed = parse_with_env("Caddyfile", &text, &no_env);
            let after = thread_cpu_time()?;
            drop(std::hint::black_box(parsed));
            Some(after - before)
        })
        .min();
    let parsed = parse_with_env("Caddyfile", &text, &no_env).expect("parses");
    assert_eq!(parsed.blocks.len(), SITES + 1);
    println!("{SITES} sites, {lines} lines, {} bytes", text.len());
    println!("tokenize: {lex:?}");
    println!("parse (env + lex + blocks + imports): {parse:?}");
    if let Some(cpu) = cpu {
        println!("parse, CPU time (best run, drop excluded): {cpu:?}");
    }
    let best = cpu.map_or(parse, |c| c.min(parse));
    assert!(best < BUDGET, "parse took {best:?}, budget {BUDGET:?}");
}
