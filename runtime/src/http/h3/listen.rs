//! Which listeners of a server serve HTTP/3: Caddy's per-listener
//! `listen_protocols` (one list per `listen` entry; `null` or absent means
//! the server's `protocols`, and an empty string inside a list stands for
//! the server's protocols not listed already).
//!
//! A TCP listener whose protocols include `h3` gets the UDP socket of the
//! same host and port beside it. An inherited datagram socket (`fdgram/N`,
//! `fdgramname/NAME`) is itself the QUIC socket, so it serves `h3` and
//! nothing else: protocols that need a stream socket on it are an error
//! when the config starts (not when it is only validated), as in Caddy
//! (`bind fd/3 {protocols h1 h2}` + `bind fdgram/5 {protocols h3}` is how
//! a Caddyfile serves all three from inherited sockets).

use crate::config::ServerConfig;
use crate::error::Error;
use crate::listeners::ListenAddr;

/// The server's default protocols (Caddy's, when `protocols` is unset).
const DEFAULT: [&str; 3] = ["h1", "h2", "h3"];

/// What one listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    /// HTTP/3.
    pub h3: bool,
    /// HTTP/1.1, HTTP/2 or h2c: protocols of a stream socket.
    pub stream: bool,
}

impl Protocols {
    /// The error for a datagram socket `addr` asked to serve `stream`
    /// protocols.
    pub fn check_datagram(self, addr: &ListenAddr) -> Result<(), Error> {
        if !self.stream {
            return Ok(());
        }
        Err(Error::Listen {
            address: addr.key(),
            message: format!(
                "a datagram socket serves HTTP/3 only, not HTTP/1 or HTTP/2; give it the protocols [\"h3\"] in listen_protocols (Caddyfile: bind {} {{ protocols h3 }})",
                addr.key()
            ),
        })
    }
}

/// For each parsed address of the server's `listen` (port ranges expanded,
/// in order), what it serves. `counts[i]` is how many addresses
/// `listen[i]` of the config expanded to.
pub fn protocols(
    srv: &ServerConfig,
    counts: &[usize],
    path: &str,
) -> Result<Vec<Protocols>, Error> {
    let server: Vec<&str> = match &srv.protocols {
        Some(p) => p.iter().map(String::as_str).collect(),
        None => DEFAULT.to_vec(),
    };
    let per = srv.listen_protocols.as_deref().unwrap_or_default();
    if !per.is_empty() && per.len() != counts.len() {
        return Err(Error::config(
            format!("{path}.listen_protocols"),
            format!(
                "listener protocols count does not match address count: {} != {}",
                per.len(),
                counts.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(counts.iter().sum());
    for (i, n) in counts.iter().enumerate() {
        let protocols = match per.get(i).and_then(Option::as_ref) {
            Some(list) => expand(list, &server, &format!("{path}.listen_protocols[{i}]"))?,
            None => server.clone(),
        };
        let p = Protocols {
            h3: protocols.contains(&"h3"),
            stream: protocols.iter().any(|p| *p != "h3"),
        };
        out.extend(std::iter::repeat_n(p, *n));
    }
    Ok(out)
}

/// One listener's protocols: its own list, with `""` replaced by the
/// server's protocols it does not name.
fn expand<'a>(list: &'a [String], server: &[&'a str], path: &str) -> Result<Vec<&'a str>, Error> {
    let mut out: Vec<&str> = Vec::new();
    let mut defaults = false;
    for (j, p) in list.iter().enumerate() {
        match p.as_str() {
            "" => defaults = true,
            "h1" | "h2" | "h2c" | "h3" => out.push(p),
            other => {
                return Err(Error::config(
                    format!("{path}[{j}]"),
                    format!("unknown protocol {other:?}"),
                ))
            }
        }
    }
    if defaults {
        let extra: Vec<&str> = server
            .iter()
            .filter(|p| !out.contains(p))
            .copied()
            .collect();
        out.extend(extra);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listeners::address::parse;

    fn run(json: serde_json::Value) -> Result<Vec<(bool, bool)>, String> {
        let srv: ServerConfig = serde_json::from_value(json).unwrap();
        let counts: Vec<usize> = srv.listen.iter().map(|a| parse(a).unwrap().len()).collect();
        let p = protocols(&srv, &counts, "s").map_err(|e| e.to_string())?;
        Ok(p.iter().map(|p| (p.h3, p.stream)).collect())
    }

    #[test]
    fn per_listener_protocols_choose_http3() {
        let j = serde_json::json!({"listen": [":8443", "fd/3", "fdgram/4"],
            "listen_protocols": [null, ["h1", "h2"], ["h3"]]});
        assert_eq!(
            run(j).unwrap(),
            vec![(true, true), (false, true), (true, false)]
        );
        let j = serde_json::json!({"listen": [":8000-8001"], "protocols": ["h1"]});
        assert_eq!(run(j).unwrap(), vec![(false, true), (false, true)]);
        let j = serde_json::json!({"listen": [":80", ":81"], "protocols": ["h1"],
            "listen_protocols": [["", "h3"], [""]]});
        assert_eq!(run(j).unwrap(), vec![(true, true), (false, true)]);
    }

    #[test]
    fn bad_listen_protocols_and_datagram_sockets_serving_http1() {
        let e = run(serde_json::json!({"listen": [":1", ":2"], "listen_protocols": [["h3"]]}))
            .unwrap_err();
        assert!(
            e.contains("count does not match address count: 1 != 2"),
            "{e}"
        );
        let e =
            run(serde_json::json!({"listen": [":1"], "listen_protocols": [["h4"]]})).unwrap_err();
        assert!(
            e.contains("s.listen_protocols[0][0]") && e.contains("\"h4\""),
            "{e}"
        );
        let addr = &parse("fdgram/4").unwrap()[0];
        let both = Protocols {
            h3: true,
            stream: true,
        };
        let e = both.check_datagram(addr).unwrap_err().to_string();
        assert!(
            e.starts_with("listen fdgram/4: a datagram socket serves HTTP/3 only"),
            "{e}"
        );
        let h3 = Protocols {
            h3: true,
            stream: false,
        };
        assert!(h3.check_datagram(addr).is_ok());
    }
}
