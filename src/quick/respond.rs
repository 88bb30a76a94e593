//! `bellhop respond`: a quick server answering every request with a fixed
//! status, headers and body, as `caddy respond`: `--listen` (default
//! `:0`, a free port; a port range makes one server per port), the body
//! from `--body`, the last argument (a 3-digit number is the status
//! instead) or a pipe on standard input, with `{{.N}}`, `{{.Port}}` and
//! `{{.Address}}` filled in per server. Prints `Server address: …` for
//! each listener once serving.

use crate::Outcome;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Read};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The address to which to bind the listener.
    #[arg(long, short = 'l', default_value = ":0")]
    listen: String,
    /// The response status code.
    #[arg(long, short = 's', default_value_t = 200)]
    status: u16,
    /// The body of the HTTP response.
    #[arg(long, short = 'b', default_value = "")]
    body: String,
    /// Enable the access log.
    #[arg(long)]
    access_log: bool,
    /// Enable more verbose debug-level logging.
    #[arg(long, short = 'v')]
    debug: bool,
    /// Set a header on the response (format: "Field: value").
    #[arg(long, short = 'H')]
    header: Vec<String>,
    /// The body, or the status when a 3-digit number.
    arg: Option<String>,
}

/// `{{.N}}`, `{{.Port}}`, `{{.Address}}` (spaces inside the braces
/// allowed); other actions are left as they are.
fn fill(body: &str, n: usize, port: u16, address: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        match after[..j].trim() {
            ".N" => out.push_str(&n.to_string()),
            ".Port" => out.push_str(&port.to_string()),
            ".Address" => out.push_str(address),
            _ => out.push_str(&rest[i..i + 2 + j + 2]),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

/// `host:port` or `host:start-end` (Caddy's network address, TCP): the
/// listen addresses and their ports.
fn listen_addrs(listen: &str) -> Result<Vec<(String, u16)>> {
    if listen.starts_with("unix/") || listen.starts_with("fd/") || listen.starts_with("fdgram/") {
        return Ok(vec![(listen.to_string(), 0)]);
    }
    let Some((host, ports)) = listen.rsplit_once(':') else {
        bail!("invalid listen address {listen:?}: missing port");
    };
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (a, b),
        None => (ports, ports),
    };
    let parse = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| anyhow::anyhow!("invalid port {p:?} in {listen:?}"))
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if end < start {
        bail!("end port must not be less than start port in {listen:?}");
    }
    Ok((start..=end).map(|p| (format!("{host}:{p}"), p)).collect())
}

pub fn run(args: Args, status_given: bool) -> Result<Outcome> {
    let (mut status, mut body) = (args.status, args.body.clone());
    if let Some(arg) = &args.arg {
        if !args.body.is_empty() && status_given {
            bail!("unflagged argument \"{arg}\" is overridden by flags");
        }
        match arg.parse::<i64>() {
            Ok(n) if !status_given => {
                if let Some(n) = u16::try_from(n).ok().filter(|n| (100..=999).contains(n)) {
                    status = n;
                }
            }
            _ if body.is_empty() => body = arg.clone(),
            _ => {}
        }
    }
    if body.is_empty() && !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin();
        let piped = std::fs::metadata("/proc/self/fd/0").is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_fifo()
        });
        if piped {
            stdin.lock().read_to_string(&mut body)?;
        }
    }
    let headers = super::headers(&args.header, "header")?;
    let mut servers = Map::new();
    for (i, (addr, port)) in listen_addrs(&args.listen)?.into_iter().enumerate() {
        let mut handler = json!({"handler": "static_response", "status_code": status.to_string()});
        if !headers.is_empty() {
            handler["headers"] = Value::Object(headers.clone());
        }
        let text = fill(&body, i, port, &addr);
        if !text.is_empty() {
            handler["body"] = text.into();
        }
        let mut server = super::server(&addr, json!({"handle": [handler]}), args.access_log);
        server["automatic_https"] = json!({"disable_redirects": true});
        servers.insert(format!("static{i}"), server);
    }
    let json = super::config(json!({"http": {"servers": servers}}), args.debug);
    crate::run::serve_built(json, "respond", true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_ranges_and_body_templates() {
        assert_eq!(listen_addrs(":0").unwrap(), [(":0".to_string(), 0)]);
        assert_eq!(listen_addrs("127.0.0.1:8000-8002").unwrap().len(), 3);
        assert!(listen_addrs("localhost").is_err());
        assert!(listen_addrs(":9-8").is_err());
        assert_eq!(
            fill(
                "server {{.N}} on {{ .Port }} at {{.Address}}; {{.Other}}",
                2,
                8002,
                ":8002"
            ),
            "server 2 on 8002 at :8002; {{.Other}}"
        );
    }
}
