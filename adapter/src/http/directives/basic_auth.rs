//! `basic_auth` (HTTP Basic Authentication; an `authentication` handler
//! with the `http_basic` provider), and its deprecated name `basicauth`
//! (same syntax, plus a warning):
//!
//! ```text
//! basic_auth [<matcher>] [<hash_algorithm> [<realm>]] {
//!     <username> <hashed_password>
//!     ...
//! }
//! ```
//!
//! The hash algorithm is `bcrypt` (default) or `argon2id`. Passwords must
//! already be hashed (`caddy hash-password`).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

/// The hash algorithms of Caddy's standard distribution
/// (`http.authentication.hashes.*`).
const HASHES: &[&str] = &["argon2id", "bcrypt"];

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if h.val() == "basicauth" {
        h.warn("the 'basicauth' directive is deprecated, please use 'basic_auth' instead!");
    }
    let args = h.remaining_args();
    let (hash, realm) = match args.as_slice() {
        [] => ("bcrypt".to_string(), String::new()),
        [a] => (a.clone(), String::new()),
        [a, r] => (a.clone(), r.clone()),
        _ => return Err(h.arg_err()),
    };
    if !HASHES.contains(&hash.as_str()) {
        return Err(h.error(format!("unrecognized hash algorithm: {hash}")));
    }
    let mut accounts = Vec::new();
    while h.next_block(0) {
        let username = h.val().to_string();
        let password = h.next_arg_value().unwrap_or_default();
        if h.next_arg() {
            return Err(h.arg_err());
        }
        if username.is_empty() || password.is_empty() {
            return Err(h.error("username and password cannot be empty or missing"));
        }
        accounts.push(
            Obj::new()
                .set("username", username)
                .set("password", password)
                .build(),
        );
    }
    let provider = Obj::new()
        .set("hash", Obj::module("algorithm", &hash))
        .opt("accounts", Value::Array(accounts))
        .opt("realm", realm)
        .set("hash_cache", Obj::new());
    Ok(Obj::handler("authentication")
        .set("providers", Obj::new().set("http_basic", provider))
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn deprecated_name_warns_at_the_directive() {
        let src = ":80 {\n\tbasicauth {\n\t\tbob hash\n\t}\n}\n";
        let adapted = crate::adapt("Caddyfile", src).unwrap();
        let w = adapted
            .warnings
            .iter()
            .find(|w| w.message.contains("'basicauth' directive is deprecated"))
            .expect("deprecation warning");
        assert_eq!((w.file.as_str(), w.line), ("Caddyfile", 2));
        let src = ":80 {\n\tbasic_auth {\n\t\tbob hash\n\t}\n}\n";
        let adapted = crate::adapt("Caddyfile", src).unwrap();
        assert!(adapted
            .warnings
            .iter()
            .all(|w| !w.message.contains("deprecated")));
    }
}
