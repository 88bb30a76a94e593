//! The ACME server's routing, request authentication and account
//! endpoints: the directory, `new-nonce`, `new-account`, `account/<id>`
//! (update, deactivation, its `orders` list) and `key-change`. Every POST
//! is a JWS checked for a fresh nonce, the exact request URL and a valid
//! signature by the account's key (`kid`) or, for a new account, by the
//! key it carries (`jwk`). Errors are RFC 7807 problems with ACME's types.
//! Order, authorization, challenge and certificate endpoints: `orders.rs`.

use super::jws::{self, Jwk, JwsError};
use super::store::{random_id, Account};
use super::AcmeServer;
use crate::http::{Body, Cx, Response};
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, LINK, LOCATION};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// An ACME error.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(kind: &'static str, detail: impl Into<String>) -> Problem {
        let status = match kind {
            "unauthorized" | "orderNotReady" => StatusCode::FORBIDDEN,
            "serverInternal" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Problem {
            status,
            kind,
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str) -> Problem {
        Problem {
            status: StatusCode::NOT_FOUND,
            kind: "malformed",
            detail: format!("{what} not found"),
        }
    }

    /// The problem document as a response.
    pub fn reply(&self) -> Response {
        let body = json!({
            "type": format!("urn:ietf:params:acme:error:{}", self.kind),
            "detail": self.detail,
            "status": self.status.as_u16(),
        });
        let mut r = Response::new(Body::from_bytes(body.to_string()));
        *r.status_mut() = self.status;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    }
}

impl From<JwsError> for Problem {
    fn from(e: JwsError) -> Problem {
        Problem::new(e.kind, e.detail)
    }
}

/// A successful answer: status, JSON (or PEM) body and its `Location`.
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub location: Option<String>,
    /// An extra `Link` (a challenge's `up`).
    pub link: Option<String>,
}

impl Reply {
    pub fn json(status: StatusCode, v: Value, location: Option<String>) -> Reply {
        Reply {
            status,
            body: v.to_string().into_bytes(),
            content_type: "application/json",
            location,
            link: None,
        }
    }
}

/// What a verified POST carries.
pub struct Authed {
    pub jws: jws::Jws,
    pub key: Jwk,
    pub account: Option<Account>,
}

/// Answers one request under the handler's prefix.
pub async fn serve(s: &AcmeServer, cx: &mut Cx<'_>) -> Response {
    let base = s.base(cx);
    let path = cx.parts.uri.path()[s.prefix.len()..].to_string();
    let (ca, endpoint) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let outcome = if ca != s.ca {
        Err(Problem::not_found(&format!("provisioner {ca:?}")))
    } else {
        route(s, cx, &base, endpoint).await
    };
    let mut r = match outcome {
        Ok(reply) => into_response(reply),
        Err(p) => p.reply(),
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&s.store.nonce()) {
        h.insert("replay-nonce", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{base}/directory>;rel=\"index\"")) {
        h.append(LINK, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn into_response(reply: Reply) -> Response {
    let mut r = Response::new(Body::from_bytes(reply.body));
    *r.status_mut() = reply.status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Some(v) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(LOCATION, v);
    }
    if let Some(v) = reply.link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.append(LINK, v);
    }
    r
}

async fn route(
    s: &AcmeServer,
    cx: &mut Cx<'_>,
    base: &str,
    endpoint: &str,
) -> Result<Reply, Problem> {
    let method = cx.parts.method.clone();
    let parts: Vec<&str> = endpoint.split('/').collect();
    match (&method, parts.as_slice()) {
        (&Method::GET | &Method::HEAD, ["directory"]) => Ok(directory(base)),
        (&Method::GET | &Method::HEAD, ["new-nonce"]) => Ok(Reply {
            status: if method == Method::HEAD {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            },
            body: Vec::new(),
            content_type: "application/json",
            location: None,
            link: None,
        }),
        (&Method::POST, _) => {
            let url = format!("{base}/{endpoint}");
            let by_key = matches!(parts.as_slice(), ["new-account"]);
            let authed = authenticate(s, cx, base, &url, by_key)?;
            match parts.as_slice() {
                ["new-account"] => new_account(s, base, authed),
                ["account", id] => account(s, base, id, authed),
                ["account", id, "orders"] => account_orders(s, base, id, authed),
                ["key-change"] => key_change(s, base, &url, authed),
                ["new-order"] => super::orders::new_order(s, base, authed),
                ["order", id] => super::orders::order(s, base, id, authed),
                ["order", id, "finalize"] => super::orders::finalize(s, base, id, authed),
                ["authz", id] => super::orders::authz(s, base, id, authed),
                ["challenge", authz, ch] => {
                    super::orders::challenge(s, base, authz, ch, authed).await
                }
                ["certificate", id] => super::orders::certificate(s, id, authed),
                ["revoke-cert"] => super::orders::revoke(s, authed),
                _ => Err(Problem::not_found(&format!("endpoint {endpoint:?}"))),
            }
        }
        _ => Err(Problem {
            status: StatusCode::METHOD_NOT_ALLOWED,
            kind: "malformed",
            detail: format!("{method} is not allowed here"),
        }),
    }
}

fn directory(base: &str) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "newNonce": format!("{base}/new-nonce"),
            "newAccount": format!("{base}/new-account"),
            "newOrder": format!("{base}/new-order"),
            "revokeCert": format!("{base}/revoke-cert"),
            "keyChange": format!("{base}/key-change"),
        }),
        None,
    )
}

/// Checks a POST's JWS: content type, nonce, URL, key and signature.
fn authenticate(
    s: &AcmeServer,
    cx: &Cx<'_>,
    base: &str,
    url: &str,
    by_key: bool,
) -> Result<Authed, Problem> {
    let ct = cx
        .parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.trim().eq_ignore_ascii_case("application/jose+json") {
        return Err(Problem::new(
            "malformed",
            "expected content-type to be application/jose+json",
        ));
    }
    let body = cx.body.buffered().cloned().unwrap_or_default();
    let jws = jws::parse(&body)?;
    if !s.store.take_nonce(&jws.header.nonce) {
        return Err(Problem::new("badNonce", "the nonce is unknown or used"));
    }
    if jws.header.url != url {
        return Err(Problem::new(
            "unauthorized",
            format!(
                "the JWS url {:?} is not the request's {url:?}",
                jws.header.url
            ),
        ));
    }
    let (key, account) = match (&jws.header.jwk, &jws.header.kid, by_key) {
        (Some(jwk), None, true) => {
            let key = Jwk::from_json(jwk.clone())?;
            let account = s.store.account_by_key(&key);
            (key, account)
        }
        (None, Some(kid), false) => {
            let prefix = format!("{base}/account/");
            let id = kid.strip_prefix(&prefix).ok_or_else(|| {
                Problem::new(
                    "malformed",
                    format!("kid {kid:?} is not an account URL of this server"),
                )
            })?;
            let account = s
                .store
                .account(id)
                .ok_or_else(|| Problem::new("accountDoesNotExist", "account not found"))?;
            if account.status != "valid" {
                return Err(Problem::new(
                    "unauthorized",
                    format!("the account is {}", account.status),
                ));
            }
            (Jwk::from_json(account.jwk.clone())?, Some(account))
        }
        (_, _, true) => {
            return Err(Problem::new(
                "malformed",
                "this request must carry a jwk, not a kid",
            ))
        }
        (_, _, false) => {
            return Err(Problem::new(
                "malformed",
                "this request must carry a kid, not a jwk",
            ))
        }
    };
    jws.verify(&key)?;
    Ok(Authed { jws, key, account })
}

pub fn account_json(base: &str, a: &Account) -> Value {
    json!({
        "status": a.status,
        "contact": a.contact,
        "orders": format!("{base}/account/{}/orders", a.id),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AccountRequest {
    contact: Option<Vec<String>>,
    #[serde(default)]
    only_return_existing: bool,
    status: Option<String>,
}

fn new_account(s: &AcmeServer, base: &str, a: Authed) -> Result<Reply, Problem> {
    let req: AccountRequest = a.jws.json()?;
    if let Some(existing) = a.account {
        let loc = format!("{base}/account/{}", existing.id);
        return Ok(Reply::json(
            StatusCode::OK,
            account_json(base, &existing),
            Some(loc),
        ));
    }
    if req.only_return_existing {
        return Err(Problem::new(
            "accountDoesNotExist",
            "account does not exist",
        ));
    }
    let contact = req.contact.unwrap_or_default();
    check_contacts(&contact)?;
    let account = Account {
        id: random_id(),
        thumbprint: a.key.thumbprint(),
        jwk: a.key.json.clone(),
        contact,
        status: "valid".into(),
    };
    s.store
        .put_account(account.clone())
        .map_err(|e| Problem::new("serverInternal", format!("storing the account: {e}")))?;
    let loc = format!("{base}/account/{}", account.id);
    Ok(Reply::json(
        StatusCode::CREATED,
        account_json(base, &account),
        Some(loc),
    ))
}

fn check_contacts(contact: &[String]) -> Result<(), Problem> {
    for c in contact {
        if !c.starts_with("mailto:") || c.len() <= "mailto:".len() {
            return Err(Problem::new(
                "invalidContact",
                format!("contact {c:?} is not a mailto: URL"),
            ));
        }
    }
    Ok(())
}

/// The request's own account, which must be `id`.
fn own(a: &Authed, id: &str) -> Result<Account, Problem> {
    match &a.account {
        Some(acc) if acc.id == id => Ok(acc.clone()),
        _ => Err(Problem::new(
            "unauthorized",
            "the account is not the requester's",
        )),
    }
}

fn account(s: &AcmeServer, base: &str, id: &str, a: Authed) -> Result<Reply, Problem> {
    let mut acc = own(&a, id)?;
    let req: AccountRequest = a.jws.json()?;
    let mut changed = false;
    if let Some(contact) = req.contact {
        check_contacts(&contact)?;
        acc.contact = contact;
        changed = true;
    }
    match req.status.as_deref() {
        None => {}
        Some("deactivated") => {
            acc.status = "deactivated".into();
            changed = true;
        }
        Some(other) => {
            return Err(Problem::new(
                "malformed",
                format!("cannot set the status {other:?}"),
            ))
        }
    }
    if changed {
        s.store
            .put_account(acc.clone())
            .map_err(|e| Problem::new("serverInternal", format!("storing the account: {e}")))?;
    }
    let loc = format!("{base}/account/{id}");
    Ok(Reply::json(
        StatusCode::OK,
        account_json(base, &acc),
        Some(loc),
    ))
}

fn account_orders(s: &AcmeServer, base: &str, id: &str, a: Authed) -> Result<Reply, Problem> {
    own(&a, id)?;
    let urls: Vec<String> = s
        .store
        .orders_of(id)
        .iter()
        .map(|o| format!("{base}/order/{o}"))
        .collect();
    Ok(Reply::json(StatusCode::OK, json!({ "orders": urls }), None))
}

/// RFC 8555 §7.3.5: the payload is a JWS by the new key naming the
/// account and the old key.
fn key_change(s: &AcmeServer, base: &str, url: &str, a: Authed) -> Result<Reply, Problem> {
    let mut acc = a
        .account
        .clone()
        .ok_or_else(|| Problem::new("accountDoesNotExist", "account not found"))?;
    let inner = jws::parse(&a.jws.payload)?;
    let new_key =
        inner.header.jwk.clone().ok_or_else(|| {
            Problem::new("malformed", "the inner JWS must carry the new key as jwk")
        })?;
    let new_key = Jwk::from_json(new_key)?;
    inner.verify(&new_key)?;
    if inner.header.url != url {
        return Err(Problem::new(
            "malformed",
            "the inner JWS url differs from the outer",
        ));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct KeyChange {
        account: String,
        old_key: Map<String, Value>,
    }
    let kc: KeyChange = inner.json()?;
    if kc.account != format!("{base}/account/{}", acc.id) {
        return Err(Problem::new(
            "unauthorized",
            "the inner JWS names another account",
        ));
    }
    if Jwk::from_json(kc.old_key)?.thumbprint() != acc.thumbprint {
        return Err(Problem::new(
            "unauthorized",
            "oldKey is not the account's key",
        ));
    }
    if let Some(other) = s.store.account_by_key(&new_key) {
        return Err(Problem {
            status: StatusCode::CONFLICT,
            kind: "malformed",
            detail: format!("the new key is the key of account {}", other.id),
        });
    }
    let old = std::mem::replace(&mut acc.thumbprint, new_key.thumbprint());
    acc.jwk = new_key.json;
    s.store
        .rekey_account(&old, acc.clone())
        .map_err(|e| Problem::new("serverInternal", format!("storing the account: {e}")))?;
    let loc = format!("{base}/account/{}", acc.id);
    Ok(Reply::json(
        StatusCode::OK,
        account_json(base, &acc),
        Some(loc),
    ))
}
