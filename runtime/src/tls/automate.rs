//! Managing certificates: load a stored certificate or obtain one, store
//! it, put it in the cache, and renew it in its renewal window.
//!
//! Obtaining takes a storage lock per name, then looks in storage again,
//! so two processes sharing storage never obtain the same certificate
//! twice. Failures are retried with exponential backoff. Certificates the
//! internal CA signs are issued synchronously at start-up, so a config's
//! first handshake already finds them. Every issuance makes a new private
//! key unless the policy sets `reuse_private_keys` and one is stored.

use super::cache::Cert;
use super::issuer::{AutoPolicy, Issuer};
use super::storage::{safe_key, BLOCKING_WAIT};
use super::TlsState;
use rcgen::KeyPair;
use std::sync::Arc;
use std::time::Duration;

const FIRST_RETRY: Duration = Duration::from_secs(2);
const MAX_RETRY: Duration = Duration::from_secs(600);

/// Storage key of a managed certificate's file with extension `ext`.
pub fn cert_key(issuer: &Issuer, name: &str, ext: &str) -> String {
    let n = safe_key(name);
    format!("certificates/{}/{n}/{n}.{ext}", safe_key(&issuer.key()))
}

/// Loads the stored certificate of `name` from `issuer`, if any.
fn load_stored(state: &TlsState, issuer: &Issuer, name: &str) -> Option<Cert> {
    let chain = state
        .storage
        .read_string(&cert_key(issuer, name, "crt"))
        .ok()??;
    let key = state
        .storage
        .read_string(&cert_key(issuer, name, "key"))
        .ok()??;
    match Cert::from_pem(&chain, &key, Vec::new()) {
        Ok(mut c) => {
            c.managed_by = Some(issuer.key());
            Some(c)
        }
        Err(e) => {
            tracing::warn!(name, error = %e, "ignoring a malformed stored certificate");
            None
        }
    }
}

fn store(
    state: &TlsState,
    issuer: &Issuer,
    name: &str,
    chain: &str,
    key: &str,
) -> Result<(), String> {
    let meta = serde_json::json!({"sans": [name], "issuer": issuer.key()});
    let s = &state.storage;
    s.write(&cert_key(issuer, name, "key"), key.as_bytes(), true)
        .and_then(|_| s.write(&cert_key(issuer, name, "crt"), chain.as_bytes(), false))
        .and_then(|_| {
            s.write(
                &cert_key(issuer, name, "json"),
                meta.to_string().as_bytes(),
                false,
            )
        })
        .map_err(|e| format!("storing the certificate of {name}: {e}"))
}

/// A stored, still-fresh certificate for `name` under `policy`.
fn fresh_stored(state: &TlsState, policy: &AutoPolicy, name: &str) -> Option<Cert> {
    policy
        .issuers
        .iter()
        .filter_map(|i| load_stored(state, i, name))
        .find(|c| !c.needs_renewal(policy.renewal_ratio))
}

/// Loads or issues synchronously what can be; returns the names left to
/// obtain in the background.
pub fn manage_now(state: &Arc<TlsState>, names: &[String]) -> Vec<String> {
    let mut pending = Vec::new();
    for name in names {
        let policy = state.policy_for(name);
        let kinds: Vec<&str> = policy.issuers.iter().map(|i| i.kind()).collect();
        tracing::info!(name = %name, issuers = ?kinds, "managing certificate");
        if let Some(c) = fresh_stored(state, policy, name) {
            tracing::debug!(name = %name, "using the stored certificate");
            state.cache.insert(Arc::new(c));
            continue;
        }
        let internal = matches!(
            policy.issuers.first().map(|i| i.as_ref()),
            Some(Issuer::Internal(_))
        );
        if !internal {
            pending.push(name.clone());
        } else if let Err(e) = issue_internal_now(state, policy, name) {
            tracing::error!(name = %name, error = %e, "internal CA could not issue");
            pending.push(name.clone());
        }
    }
    pending
}

/// Issues `name` from the policy's first (internal) issuer at start-up,
/// under the name's storage lock: another process sharing the storage
/// that stored it meanwhile is taken at its word.
fn issue_internal_now(state: &TlsState, policy: &AutoPolicy, name: &str) -> Result<(), String> {
    let _lock = state
        .storage
        .lock_blocking(&format!("issue_cert_{name}"), BLOCKING_WAIT)
        .map_err(|e| format!("taking the storage lock: {e}"))?;
    if let Some(c) = fresh_stored(state, policy, name) {
        tracing::info!(name, "using the certificate found in storage");
        state.cache.insert(Arc::new(c));
        return Ok(());
    }
    let issuer = &policy.issuers[0];
    let Issuer::Internal(internal) = issuer.as_ref() else {
        return Err("not an internal issuer".into());
    };
    let key = private_key(state, policy, name)?;
    let (chain, key) = internal.issue(state, &[name.to_string()], &key)?;
    if let Err(e) = install(state, issuer, name, &chain, &key) {
        tracing::error!(name = %name, error = %e, "installing an internal certificate");
    }
    Ok(())
}

/// The private key of a new certificate for `name`: under
/// `reuse_private_keys`, the key already stored for it by one of the
/// policy's issuers (certmagic looks in the same places); otherwise, or
/// when none is stored (or it cannot be read), a new `key_type` key.
fn private_key(state: &TlsState, policy: &AutoPolicy, name: &str) -> Result<KeyPair, String> {
    if policy.reuse_private_keys {
        for issuer in &policy.issuers {
            let pem = state.storage.read_string(&cert_key(issuer, name, "key"));
            let Ok(Some(pem)) = pem else { continue };
            match super::keys::key_pair_from_pem(&pem) {
                Ok(key) => {
                    tracing::info!(
                        name,
                        issuer = issuer.kind(),
                        "reusing the stored private key"
                    );
                    return Ok(key);
                }
                Err(e) => {
                    tracing::warn!(name, error = %e, "cannot reuse the stored private key; making a new one")
                }
            }
        }
    }
    policy.key_type.generate()
}

fn install(
    state: &TlsState,
    issuer: &Issuer,
    name: &str,
    chain: &str,
    key: &str,
) -> Result<(), String> {
    store(state, issuer, name, chain, key)?;
    let mut c = Cert::from_pem(chain, key, Vec::new())?;
    c.managed_by = Some(issuer.key());
    tracing::info!(
        name,
        issuer = issuer.kind(),
        not_after = c.facts.not_after,
        "certificate obtained successfully"
    );
    state.cache.insert(Arc::new(c));
    Ok(())
}

/// The per-name gate: one issuance of a name at a time in this process
/// (the storage lock covers other processes).
pub(super) fn gate(state: &TlsState, name: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut gates = state.inflight.lock().unwrap_or_else(|e| e.into_inner());
    gates.retain(|_, g| Arc::strong_count(g) > 1);
    gates.entry(name.to_string()).or_default().clone()
}

/// Whether the cache holds a managed certificate for `name` that is not
/// due for renewal.
fn fresh_cached(state: &TlsState, name: &str) -> bool {
    let ratio = state.policy_for(name).renewal_ratio;
    state
        .cache
        .exact(name)
        .iter()
        .any(|c| c.managed_by.is_some() && !c.needs_renewal(ratio))
}

/// Obtains the certificate of `name` unless a fresh one is cached or
/// stored. Concurrent calls for one name wait for one issuance.
pub async fn obtain(state: &TlsState, name: &str) -> Result<(), String> {
    let gate = gate(state, name);
    let _one = gate.lock().await;
    if fresh_cached(state, name) {
        return Ok(());
    }
    obtain_locked(state, name).await
}

/// Obtains (or renews) the certificate of `name`, trying the policy's
/// issuers in order. The caller holds the name's gate.
pub(super) async fn obtain_locked(state: &TlsState, name: &str) -> Result<(), String> {
    let policy = state.policy_for(name);
    let _lock = state
        .storage
        .lock(&format!("issue_cert_{name}"))
        .await
        .map_err(|e| format!("taking the storage lock: {e}"))?;
    // Another process may have obtained (or renewed) it meanwhile; a
    // stored certificate outside its renewal window needs no issuance.
    if let Some(c) = fresh_stored(state, policy, name) {
        tracing::info!(name, "using the certificate found in storage");
        state.cache.insert(Arc::new(c));
        return Ok(());
    }
    let key = private_key(state, policy, name)?;
    let mut errors = Vec::new();
    for issuer in &policy.issuers {
        match issuer
            .issue(state, std::slice::from_ref(&name.to_string()), &key)
            .await
        {
            Ok((chain, key)) => return install(state, issuer, name, &chain, &key),
            Err(e) => {
                tracing::warn!(name, issuer = issuer.kind(), error = %e, "could not obtain certificate");
                errors.push(format!("{}: {e}", issuer.kind()));
            }
        }
    }
    Err(errors.join("; "))
}

/// Obtains `name`, retrying with exponential backoff until it succeeds.
async fn obtain_with_retries(state: &TlsState, name: &str) {
    let mut wait = FIRST_RETRY;
    loop {
        match obtain(state, name).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(name, error = %e, retry_in = ?wait, "obtaining certificate failed");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_RETRY);
            }
        }
    }
}

/// The background task of a live config: obtain each pending name in a
/// task of its own (one failing name holds up no other), and check for
/// renewals every `renew_interval`. Dropping the task stops them all.
pub async fn maintain(state: Arc<TlsState>, pending: Vec<String>) {
    let mut obtaining = tokio::task::JoinSet::new();
    for name in pending {
        let state = state.clone();
        obtaining.spawn(async move { obtain_with_retries(&state, &name).await });
    }
    loop {
        tokio::time::sleep(state.renew_interval).await;
        while obtaining.try_join_next().is_some() {}
        renew_due(&state).await;
    }
}

/// Renews every managed certificate in its renewal window, one attempt
/// each: a failure is logged and tried again at the next check. Names
/// being obtained right now are left alone.
pub async fn renew_due(state: &TlsState) {
    for cert in state.cache.all() {
        if cert.managed_by.is_none() {
            continue;
        }
        for name in &cert.names {
            let policy = state.policy_for(name);
            if !cert.needs_renewal(policy.renewal_ratio) {
                continue;
            }
            let gate = gate(state, name);
            let Ok(_one) = gate.try_lock() else {
                continue;
            };
            tracing::info!(target: "tls.renew", name = %name, "renewing certificate");
            if let Err(e) = obtain_locked(state, name).await {
                tracing::error!(target: "tls.renew", name = %name, error = %e, "renewing certificate failed; will retry");
            }
        }
    }
}
