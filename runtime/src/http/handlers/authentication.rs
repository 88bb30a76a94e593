//! `http.handlers.authentication` with the `http_basic` provider
//! (`http.authentication.providers.http_basic`): HTTP Basic auth against
//! accounts whose passwords are bcrypt or argon2id hashes.
//!
//! Without valid credentials the request fails with 401 (error routes run)
//! and the response carries `WWW-Authenticate: Basic realm="…"` (default
//! realm `restricted`, as Caddy). On success `{http.auth.user.id}` is the
//! username. An unknown username is compared against a fake hash of the
//! same cost, so timing does not tell whether an account exists. Hashing is
//! slow by design, so it runs on the blocking pool; with `hash_cache`, a
//! repeated comparison is answered from memory at once.
//!
//! Caddyfile: `basic_auth [<matcher>] [<hash_algorithm> [<realm>]] { <user> <hash> }`.

mod hashes;

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{BoxFuture, Cx, Flow, Handler, Step};
use crate::registry::Provision;
use base64::Engine as _;
use hashes::{Algorithm, HashCache};
use http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    providers: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicConfig {
    #[serde(default)]
    accounts: Vec<AccountConfig>,
    hash: Option<HashConfig>,
    #[serde(default)]
    realm: String,
    hash_cache: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashConfig {
    algorithm: String,
}

/// The provisioned `http_basic` provider.
struct Basic {
    accounts: HashMap<String, Arc<str>>,
    alg: Algorithm,
    fake: Arc<str>,
    challenge: HeaderValue,
    cache: Option<Arc<HashCache>>,
}

/// The handler; with no provider every request is unauthenticated.
struct Authentication {
    basic: Option<Basic>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let mut basic = None;
    for (name, conf) in &c.providers {
        let at = format!("{path}.providers.{name}");
        p.require(&format!("http.authentication.providers.{name}"), &at)?;
        basic = Some(provision_basic(conf, p, &at)?);
    }
    Ok(Box::new(Authentication { basic }))
}

fn literal(s: &str, path: &str) -> Result<String, Error> {
    Template::parse(s)
        .as_literal()
        .map(str::to_string)
        .ok_or_else(|| Error::config(path, "only {env.*} placeholders are allowed here"))
}

fn provision_basic(v: &Value, p: &Provision<'_>, path: &str) -> Result<Basic, Error> {
    let c: BasicConfig = p.decode(v, path)?;
    let alg_name = c.hash.as_ref().map_or("bcrypt", |h| h.algorithm.as_str());
    let alg_path = format!("{path}.hash.algorithm");
    p.require(&format!("http.authentication.hashes.{alg_name}"), &alg_path)?;
    let alg = Algorithm::from_name(alg_name)
        .ok_or_else(|| Error::config(&alg_path, format!("unknown hash {alg_name}")))?;
    let mut accounts = HashMap::new();
    let mut first: Option<String> = None;
    for (i, a) in c.accounts.iter().enumerate() {
        let at = format!("{path}.accounts[{i}]");
        let user = literal(&a.username, &format!("{at}.username"))?;
        let stored = literal(&a.password, &format!("{at}.password"))?;
        if user.is_empty() || stored.is_empty() {
            return Err(Error::config(at, "username and password are required"));
        }
        let hash = hashes::decode_password(alg, &stored, &format!("{at}.password"))?;
        first.get_or_insert_with(|| hash.clone());
        if accounts.insert(user.clone(), hash.into()).is_some() {
            return Err(Error::config(at, format!("username is not unique: {user}")));
        }
    }
    let realm = if c.realm.is_empty() {
        "restricted"
    } else {
        &c.realm
    };
    let challenge = HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
        .map_err(|e| Error::config(format!("{path}.realm"), e))?;
    Ok(Basic {
        accounts,
        alg,
        fake: alg.fake_hash(first.as_deref()).into(),
        challenge,
        cache: c.hash_cache.map(|_| Arc::new(HashCache::new())),
    })
}

/// `user:password` from `Authorization: Basic …` (Go's `BasicAuth`).
fn credentials(cx: &Cx<'_>) -> Option<(String, Vec<u8>)> {
    let v = cx.parts.headers.get(AUTHORIZATION)?.as_bytes();
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&v[6..])
        .ok()?;
    let colon = raw.iter().position(|&b| b == b':')?;
    let user = std::str::from_utf8(&raw[..colon]).ok()?.to_string();
    Some((user, raw[colon + 1..].to_vec()))
}

impl Basic {
    /// The hash to compare with, and whether the account exists.
    fn hash_for(&self, user: &str) -> (Arc<str>, bool) {
        match self.accounts.get(user) {
            Some(h) => (h.clone(), true),
            None => (self.fake.clone(), false),
        }
    }

    fn fail(&self, cx: &mut Cx<'_>) -> HttpError {
        cx.resp_headers
            .insert(WWW_AUTHENTICATE, self.challenge.clone());
        HttpError::new(StatusCode::UNAUTHORIZED, "not authenticated")
    }
}

impl Handler for Authentication {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let Some(basic) = &self.basic else {
            return Step::Fail(HttpError::new(
                StatusCode::UNAUTHORIZED,
                "not authenticated",
            ));
        };
        let Some((user, pass)) = credentials(cx) else {
            return Step::Fail(basic.fail(cx));
        };
        let Some(cache) = &basic.cache else {
            return Step::Async;
        };
        let (hash, exists) = basic.hash_for(&user);
        match cache.get(cache.key(&hash, &pass)) {
            Some(true) if exists => {
                cx.auth_user = Some(user);
                Step::Next
            }
            Some(_) => Step::Fail(basic.fail(cx)),
            None => Step::Async,
        }
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(async move {
            let basic = self
                .basic
                .as_ref()
                .ok_or_else(|| HttpError::internal("no provider"))?;
            let Some((user, pass)) = credentials(cx) else {
                return Err(basic.fail(cx));
            };
            let (hash, exists) = basic.hash_for(&user);
            let (alg, cache) = (basic.alg, basic.cache.clone());
            let same = tokio::task::spawn_blocking(move || {
                let same = alg.verify(&hash, &pass);
                if let (Some(c), Ok(s)) = (&cache, &same) {
                    c.put(c.key(&hash, &pass), *s);
                }
                same
            })
            .await
            .map_err(|e| HttpError::internal(e.to_string()))?;
            match same {
                Ok(true) if exists => {
                    cx.auth_user = Some(user);
                    Ok(Flow::Next)
                }
                Ok(_) => Err(basic.fail(cx)),
                Err(e) => {
                    tracing::error!(provider = "http_basic", error = %e, "auth provider returned error");
                    Err(basic.fail(cx))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::hashes::Algorithm;

    #[test]
    fn fake_hashes_are_valid_and_never_match() {
        let b = Algorithm::Bcrypt.fake_hash(Some("$2a$04$abcdefghijklmnopqrstuu"));
        assert!(b.starts_with("$2a$04$"));
        assert_eq!(Algorithm::Bcrypt.verify(&b, b""), Ok(false));
        let a = Algorithm::Argon2id.fake_hash(None);
        Algorithm::Argon2id.check(&a).unwrap();
        assert_eq!(Algorithm::Argon2id.verify(&a, b"antitiming"), Ok(false));
    }
}
