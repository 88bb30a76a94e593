//! authentication with http_basic: bcrypt and argon2id hashes (made here,
//! and one made by `caddy hash-password`), challenges, the user
//! placeholder, unknown users, the hash cache and config errors.

use crate::support::*;
use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine as _;
use serde_json::{json, Value};

/// `caddy hash-password --plaintext x` (Caddy 2.6.2, bcrypt cost 14).
const CADDY_BCRYPT_X: &str = "$2a$14$x.rhgWhMqzGZa4sdr2l2vu4lP9a0pBKrVr5.oZKwZZdhEfmWQxgWG";

fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

fn auth(provider: Value) -> Value {
    json!([{"handle": [
        {"handler": "authentication", "providers": {"http_basic": provider}},
        respond("hello {http.auth.user.id}")
    ]}])
}

fn argon2_hash(pass: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
    a.hash_password(pass.as_bytes(), &salt).unwrap().to_string()
}

#[tokio::test]
async fn bcrypt_accounts_challenge_and_user_placeholder() {
    let alice = bcrypt::hash("wonderland", 4).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bcrypt::hash("pw", 4).unwrap());
    let s = start_routes(auth(json!({
        "hash": {"algorithm": "bcrypt"},
        "accounts": [{"username": "alice", "password": alice}, {"username": "bob", "password": b64}]
    })));
    let r = get(s.addr, "/").await;
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, "Basic realm=\"restricted\"")
    );
    let ok = get_with(
        s.addr,
        "/",
        &[("Authorization", &basic("alice", "wonderland"))],
    )
    .await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "hello alice"));
    let ok = get_with(s.addr, "/", &[("Authorization", &basic("bob", "pw"))]).await;
    assert_eq!(ok.body, "hello bob", "base64-wrapped hashes are accepted");
    for creds in [
        basic("alice", "wrong"),
        basic("mallory", "wonderland"),
        "Basic !!".into(),
    ] {
        let r = get_with(s.addr, "/", &[("Authorization", &creds)]).await;
        assert_eq!(
            (r.status, r.header("www-authenticate")),
            (401, "Basic realm=\"restricted\"")
        );
    }
}

#[tokio::test]
async fn hash_from_caddy_hash_password_verifies() {
    let s = start_routes(auth(json!({
        "hash": {"algorithm": "bcrypt"}, "realm": "staff", "hash_cache": {},
        "accounts": [{"username": "x", "password": CADDY_BCRYPT_X}]
    })));
    let r = get_with(s.addr, "/", &[("Authorization", &basic("x", "x"))]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello x"));
    let started = std::time::Instant::now();
    let r = get_with(s.addr, "/", &[("Authorization", &basic("x", "x"))]).await;
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed().as_millis() < 100,
        "hash_cache answers at once"
    );
    let r = get_with(s.addr, "/", &[("Authorization", &basic("x", "y"))]).await;
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, "Basic realm=\"staff\"")
    );
}

#[tokio::test]
async fn unknown_users_cost_a_comparison_too() {
    let hash = bcrypt::hash("pw", 10).unwrap();
    let s = start_routes(auth(
        json!({"accounts": [{"username": "u", "password": hash}]}),
    ));
    let timed = |user: &'static str| async move {
        let t = std::time::Instant::now();
        let r = get_with(s.addr, "/", &[("Authorization", &basic(user, "bad"))]).await;
        assert_eq!(r.status, 401);
        t.elapsed()
    };
    let (known, unknown) = (timed("u").await, timed("nobody").await);
    assert!(
        unknown * 3 > known,
        "unknown user answered much faster ({unknown:?} vs {known:?})"
    );
}

#[tokio::test]
async fn argon2id_accounts_and_error_routes() {
    let s = start(config_with(json!({
        "routes": auth(json!({"hash": {"algorithm": "argon2id"},
            "accounts": [{"username": "ann", "password": argon2_hash("s3cret")}]})),
        "errors": {"routes": [{"handle": [respond("denied {http.error.status_code}")]}]}
    })));
    let r = get_with(s.addr, "/", &[("Authorization", &basic("ann", "s3cret"))]).await;
    assert_eq!(r.body, "hello ann");
    let r = get_with(s.addr, "/", &[("Authorization", &basic("ann", "nope"))]).await;
    assert_eq!((r.status, r.body.as_str()), (401, "denied 401"));
    assert_eq!(r.header("www-authenticate"), "Basic realm=\"restricted\"");
}

#[tokio::test]
async fn bad_auth_configs_name_their_path() {
    let bad = |provider: Value| {
        let cfg = config_with(json!({"routes": auth(provider)}));
        bellhop_runtime::validate(cfg.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    let e = bad(json!({"hash": {"algorithm": "scrypt"}}));
    assert!(
        e.contains("http.authentication.hashes.scrypt") && e.contains("hash.algorithm"),
        "{e}"
    );
    let e = bad(json!({"accounts": [{"username": "a", "password": "$2a$10$short"}]}));
    assert!(
        e.contains("accounts[0].password") && e.contains("bcrypt"),
        "{e}"
    );
    let h = bcrypt::hash("p", 4).unwrap();
    let e = bad(
        json!({"accounts": [{"username": "a", "password": h}, {"username": "a", "password": h}]}),
    );
    assert!(e.contains("accounts[1]") && e.contains("not unique"), "{e}");
    let cfg = config_with(json!({"routes": [{"handle": [
        {"handler": "authentication", "providers": {"jwt": {}}}]}]}));
    let e = bellhop_runtime::validate(cfg.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("http.authentication.providers.jwt"), "{e}");
}
