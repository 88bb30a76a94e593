//! The ACME server's order endpoints (RFC 8555 §7.4–7.5, §7.6): placing
//! an order (its identifiers checked against the policy, one authorization
//! per identifier with a challenge of each enabled type that suits it),
//! reading orders and authorizations, answering a challenge (validated at
//! apart, `validate.rs`), finalizing with a CSR for exactly the order's
//! names, downloading the certificate chain, and revocation by the
//! account that holds the certificate.

use super::api::{Authed, Problem, Reply};
use super::store::{
    random_id, rfc3339, Authz, Cert, Challenge, Identifier, Order, Store, ORDER_LIFETIME,
};
use super::AcmeServer;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrder {
    identifiers: Vec<Identifier>,
    not_before: Option<String>,
    not_after: Option<String>,
}

fn account_id(a: &Authed) -> Result<String, Problem> {
    a.account
        .as_ref()
        .map(|acc| acc.id.clone())
        .ok_or_else(|| Problem::new("accountDoesNotExist", "account not found"))
}

/// Normalizes and checks one identifier against the policy.
fn admit(s: &AcmeServer, id: &Identifier) -> Result<Identifier, Problem> {
    let rejected = || {
        Problem::new(
            "rejectedIdentifier",
            format!("{} {:?}: not authorized", id.kind, id.value),
        )
    };
    match id.kind.as_str() {
        "dns" => {
            let value = id.value.trim_end_matches('.').to_ascii_lowercase();
            if value.is_empty() || value.parse::<IpAddr>().is_ok() {
                return Err(Problem::new(
                    "malformed",
                    format!("{:?} is not a DNS name", id.value),
                ));
            }
            if !s.policy.allows_domain(&value) {
                return Err(rejected());
            }
            Ok(Identifier {
                kind: "dns".into(),
                value,
            })
        }
        "ip" => {
            let ip: IpAddr = id.value.parse().map_err(|_| {
                Problem::new("malformed", format!("{:?} is not an IP address", id.value))
            })?;
            if !s.policy.allows_ip(ip) {
                return Err(rejected());
            }
            Ok(Identifier {
                kind: "ip".into(),
                value: ip.to_string(),
            })
        }
        other => Err(Problem::new(
            "unsupportedIdentifier",
            format!("identifier type {other:?} is not supported"),
        )),
    }
}

/// The challenge types offered for an identifier: DNS names get all the
/// enabled ones (a wildcard only `dns-01`), IPs `http-01` and
/// `tls-alpn-01` (RFC 8738).
fn challenges_for(s: &AcmeServer, id: &Identifier, wildcard: bool) -> Vec<Challenge> {
    s.challenges
        .iter()
        .filter(|c| match (id.kind.as_str(), **c) {
            (_, "dns-01") => id.kind == "dns",
            _ => !wildcard,
        })
        .map(|kind| Challenge {
            id: random_id(),
            kind,
            token: random_id(),
            status: "pending",
            validated: None,
            error: None,
        })
        .collect()
}

pub fn order_json(base: &str, o: &Order) -> Value {
    let mut v = json!({
        "status": o.status,
        "expires": rfc3339(o.expires),
        "identifiers": o.identifiers,
        "authorizations": o.authzs.iter().map(|a| format!("{base}/authz/{a}")).collect::<Vec<_>>(),
        "finalize": format!("{base}/order/{}/finalize", o.id),
    });
    if let Some(c) = &o.cert {
        v["certificate"] = format!("{base}/certificate/{c}").into();
    }
    if let Some(nb) = &o.not_before {
        v["notBefore"] = nb.clone().into();
    }
    if let Some(na) = &o.not_after {
        v["notAfter"] = na.clone().into();
    }
    if let Some(e) = &o.error {
        v["error"] = e.clone();
    }
    v
}

pub fn new_order(s: &AcmeServer, base: &str, a: Authed) -> Result<Reply, Problem> {
    let account = account_id(&a)?;
    let req: NewOrder = a.jws.json()?;
    if req.identifiers.is_empty() {
        return Err(Problem::new(
            "malformed",
            "an order needs at least one identifier",
        ));
    }
    let expires = SystemTime::now() + ORDER_LIFETIME;
    let (mut identifiers, mut authzs) = (Vec::new(), Vec::new());
    for id in &req.identifiers {
        let id = admit(s, id)?;
        let wildcard = id.value.starts_with("*.");
        let authz_id = Identifier {
            kind: id.kind.clone(),
            value: id.value.trim_start_matches("*.").to_string(),
        };
        let challenges = challenges_for(s, &id, wildcard);
        if challenges.is_empty() {
            return Err(Problem::new(
                "rejectedIdentifier",
                format!("no enabled challenge type can validate {:?}", id.value),
            ));
        }
        authzs.push(Authz {
            id: random_id(),
            account: account.clone(),
            identifier: authz_id,
            wildcard,
            status: "pending",
            expires,
            challenges,
        });
        identifiers.push(id);
    }
    let order = Order {
        id: random_id(),
        account,
        status: "pending",
        expires,
        identifiers,
        authzs: authzs.iter().map(|a| a.id.clone()).collect(),
        not_before: req.not_before,
        not_after: req.not_after,
        cert: None,
        error: None,
    };
    let loc = format!("{base}/order/{}", order.id);
    let body = order_json(base, &order);
    s.store.put_order(order, authzs);
    Ok(Reply::json(StatusCode::CREATED, body, Some(loc)))
}

/// The order `id` if it is the requester's, with its current status.
fn owned_order(s: &AcmeServer, id: &str, a: &Authed) -> Result<Order, Problem> {
    let account = account_id(a)?;
    match s.store.with_order(id, |o| o.clone()) {
        Some(o) if o.account == account => Ok(o),
        Some(_) => Err(Problem::new(
            "unauthorized",
            "the order is not the requester's",
        )),
        None => Err(Problem::not_found("order")),
    }
}

pub fn order(s: &AcmeServer, base: &str, id: &str, a: Authed) -> Result<Reply, Problem> {
    let o = owned_order(s, id, &a)?;
    Ok(Reply::json(StatusCode::OK, order_json(base, &o), None))
}

fn challenge_json(base: &str, authz: &str, c: &Challenge) -> Value {
    let mut v = json!({
        "type": c.kind,
        "url": format!("{base}/challenge/{authz}/{}", c.id),
        "token": c.token,
        "status": c.status,
    });
    if let Some(t) = c.validated {
        v["validated"] = rfc3339(t).into();
    }
    if let Some(e) = &c.error {
        v["error"] = e.clone();
    }
    v
}

fn authz_json(base: &str, z: &Authz) -> Value {
    let mut v = json!({
        "identifier": z.identifier,
        "status": z.status,
        "expires": rfc3339(z.expires),
        "challenges": z.challenges.iter().map(|c| challenge_json(base, &z.id, c)).collect::<Vec<_>>(),
    });
    if z.wildcard {
        v["wildcard"] = true.into();
    }
    v
}

fn owned_authz(s: &AcmeServer, id: &str, a: &Authed) -> Result<Authz, Problem> {
    let account = account_id(a)?;
    let mut z = match s.store.authz(id) {
        Some(z) if z.account == account => z,
        Some(_) => {
            return Err(Problem::new(
                "unauthorized",
                "the authorization is not the requester's",
            ))
        }
        None => return Err(Problem::not_found("authorization")),
    };
    if z.status == "pending" && z.expires <= SystemTime::now() {
        z.status = "expired";
    }
    Ok(z)
}

pub fn authz(s: &AcmeServer, base: &str, id: &str, a: Authed) -> Result<Reply, Problem> {
    let z = owned_authz(s, id, &a)?;
    #[derive(Deserialize)]
    struct Update {
        status: Option<String>,
    }
    let update: Update = a.jws.json()?;
    let z = match update.status.as_deref() {
        None => z,
        Some("deactivated") => s
            .store
            .with_authz(id, |z| {
                z.status = "deactivated";
                z.clone()
            })
            .ok_or_else(|| Problem::not_found("authorization"))?,
        Some(other) => {
            return Err(Problem::new(
                "malformed",
                format!("cannot set the status {other:?}"),
            ))
        }
    };
    Ok(Reply::json(StatusCode::OK, authz_json(base, &z), None))
}

pub async fn challenge(
    s: &AcmeServer,
    base: &str,
    authz_id: &str,
    ch_id: &str,
    a: Authed,
) -> Result<Reply, Problem> {
    let z = owned_authz(s, authz_id, &a)?;
    let c = z
        .challenges
        .iter()
        .find(|c| c.id == ch_id)
        .cloned()
        .ok_or_else(|| Problem::not_found("challenge"))?;
    // A POST with `{}` asks for validation; POST-as-GET only reads. The
    // challenge is `processing` until the validation, run apart as
    // Let's Encrypt does, records its outcome (clients poll for it).
    let respond = !a.jws.payload.is_empty();
    let c = if respond && c.status == "pending" && z.status == "pending" {
        let key_auth = format!("{}.{}", c.token, a.key.thumbprint());
        let started = s.store.with_authz(authz_id, |z| {
            let c = z.challenges.iter_mut().find(|c| c.id == ch_id)?;
            (c.status == "pending").then(|| {
                c.status = "processing";
                c.clone()
            })
        });
        match started.flatten() {
            Some(c) => {
                let (store, resolver) = (s.store.clone(), s.resolver.clone());
                let (kind, id, token) = (c.kind, z.identifier.clone(), c.token.clone());
                let (authz_id, ch_id) = (authz_id.to_string(), ch_id.to_string());
                tokio::spawn(async move {
                    let outcome =
                        super::validate::validate(kind, &id, &token, &key_auth, &resolver).await;
                    record(&store, &authz_id, &ch_id, outcome);
                });
                c
            }
            None => s
                .store
                .authz(authz_id)
                .and_then(|z| z.challenges.into_iter().find(|c| c.id == ch_id))
                .unwrap_or(c),
        }
    } else {
        c
    };
    let mut reply = Reply::json(StatusCode::OK, challenge_json(base, authz_id, &c), None);
    reply.link = Some(format!("<{base}/authz/{authz_id}>;rel=\"up\""));
    Ok(reply)
}

/// Records a validation's outcome on the challenge and its authorization.
fn record(store: &Store, authz_id: &str, ch_id: &str, outcome: Result<(), String>) {
    store.with_authz(authz_id, |z| {
        let Some(c) = z.challenges.iter_mut().find(|c| c.id == ch_id) else {
            return;
        };
        match outcome {
            Ok(()) => {
                c.status = "valid";
                c.validated = Some(SystemTime::now());
                z.status = "valid";
            }
            Err(detail) => {
                tracing::info!(target: "http.handlers.acme_server", identifier = %z.identifier.value, challenge = c.kind, error = %detail, "challenge failed");
                c.status = "invalid";
                c.error = Some(json!({
                    "type": "urn:ietf:params:acme:error:connection",
                    "detail": detail,
                    "status": 400,
                }));
                z.status = "invalid";
            }
        }
    });
}

#[derive(Deserialize)]
struct Finalize {
    csr: String,
}

pub fn finalize(s: &AcmeServer, base: &str, id: &str, a: Authed) -> Result<Reply, Problem> {
    let o = owned_order(s, id, &a)?;
    if o.status != "ready" {
        return Err(Problem::new(
            "orderNotReady",
            format!("the order is {}", o.status),
        ));
    }
    let req: Finalize = a.jws.json()?;
    let der = B64
        .decode(req.csr.trim_end_matches('='))
        .map_err(|_| Problem::new("malformed", "the csr is not base64url"))?;
    let (names, spki) = csr_names(&der)?;
    let mut want: Vec<String> = o.identifiers.iter().map(|i| i.value.clone()).collect();
    want.sort();
    want.dedup();
    if names != want {
        return Err(Problem::new(
            "badCSR",
            format!("the CSR names {names:?}, the order {want:?}"),
        ));
    }
    let lifetime = s.lifetime;
    let chain = s
        .tls
        .with_ca(&s.ca, |ca| {
            ca.issue_for_public_key(&want, &spki, lifetime, s.sign_with_root)
        })
        .map_err(|e| Problem::new("serverInternal", format!("signing: {e}")))?;
    let cert_id = random_id();
    s.store.put_cert(
        cert_id.clone(),
        Cert {
            account: o.account.clone(),
            chain,
            expires: SystemTime::now() + lifetime.max(Duration::from_secs(3600)),
        },
    );
    let o = s
        .store
        .with_order(id, |o| {
            o.status = "valid";
            o.cert = Some(cert_id);
            o.clone()
        })
        .ok_or_else(|| Problem::not_found("order"))?;
    tracing::info!(target: "http.handlers.acme_server", names = ?want, "issued certificate");
    let loc = format!("{base}/order/{id}");
    Ok(Reply::json(StatusCode::OK, order_json(base, &o), Some(loc)))
}

/// A CSR's names (its SANs and common name, sorted, lower case) and its
/// public key (SubjectPublicKeyInfo DER), once its signature verifies.
fn csr_names(der: &[u8]) -> Result<(Vec<String>, Vec<u8>), Problem> {
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    let bad = |d: String| Problem::new("badCSR", d);
    let (_, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| bad(format!("parsing the CSR: {e}")))?;
    csr.verify_signature()
        .map_err(|_| bad("the CSR's signature does not verify".into()))?;
    let info = &csr.certification_request_info;
    let mut names: Vec<String> = Vec::new();
    for cn in info.subject.iter_common_name() {
        if let Ok(cn) = cn.as_str() {
            names.push(cn.to_ascii_lowercase());
        }
    }
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for n in &san.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                    GeneralName::IPAddress(b) => {
                        names.push(ip_text(b).ok_or_else(|| bad("a malformed IP SAN".into()))?)
                    }
                    other => return Err(bad(format!("unsupported SAN {other:?}"))),
                }
            }
        }
    }
    names.sort();
    names.dedup();
    Ok((names, info.subject_pki.raw.to_vec()))
}

fn ip_text(b: &[u8]) -> Option<String> {
    Some(match b.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(b).ok()?).to_string(),
        16 => IpAddr::from(<[u8; 16]>::try_from(b).ok()?).to_string(),
        _ => return None,
    })
}

pub fn certificate(s: &AcmeServer, id: &str, a: Authed) -> Result<Reply, Problem> {
    let account = account_id(&a)?;
    let cert = s
        .store
        .cert(id)
        .ok_or_else(|| Problem::not_found("certificate"))?;
    if cert.account != account {
        return Err(Problem::new(
            "unauthorized",
            "the certificate is not the requester's",
        ));
    }
    Ok(Reply {
        status: StatusCode::OK,
        body: cert.chain.into_bytes(),
        content_type: "application/pem-certificate-chain",
        location: None,
        link: None,
    })
}

/// Revocation by the account that ordered the certificate: it is no longer
/// served for download. (The CA publishes no CRL or OCSP, as Caddy's.)
pub fn revoke(s: &AcmeServer, a: Authed) -> Result<Reply, Problem> {
    #[derive(Deserialize)]
    struct Revoke {
        certificate: String,
    }
    let account = account_id(&a)?;
    let req: Revoke = a.jws.json()?;
    let der = B64
        .decode(req.certificate.trim_end_matches('='))
        .map_err(|_| Problem::new("malformed", "the certificate is not base64url"))?;
    if s.store.revoke(&account, &der) {
        Ok(Reply::json(StatusCode::OK, json!({}), None))
    } else {
        Err(Problem::new(
            "unauthorized",
            "no certificate of this account matches",
        ))
    }
}
