//! Storage cleaning, as certmagic's `CleanStorage` does for Caddy: every
//! `storage_clean_interval` (a day by default), managed certificates that
//! expired more than a day ago are deleted from storage (certificate, key
//! and metadata), and so are OCSP staples past their `nextUpdate`.
//! Instances sharing a storage clean it once per interval between them:
//! `last_clean.json` records when it was last done. `disable_storage_clean`
//! turns it off.

use super::storage::Storage;
use std::sync::Arc;
use std::time::Duration;

/// How long after expiry a certificate is kept (certmagic's
/// `ExpiredCertGracePeriod`).
const GRACE: i64 = 24 * 3600;
const LAST_CLEAN: &str = "last_clean.json";

/// Cleaning settings of a `tls` app.
#[derive(Debug, Clone)]
pub struct CleanSettings {
    pub disabled: bool,
    pub interval: Duration,
}

/// What one cleaning deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub certificates: Vec<String>,
    pub staples: Vec<String>,
}

/// Cleans `storage` as of `now` (Unix seconds), unless another instance
/// did within `interval`.
pub fn clean(storage: &Storage, now: i64, interval: Duration) -> Cleaned {
    let last = storage
        .read(LAST_CLEAN)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["tls"]["timestamp"].as_i64());
    if last.is_some_and(|t| now - t < interval.as_secs() as i64) {
        return Cleaned::default();
    }
    let mut done = Cleaned::default();
    for key in storage.list("certificates") {
        let Some(stem) = key.strip_suffix(".crt") else {
            continue;
        };
        let expired = storage
            .read(&key)
            .ok()
            .flatten()
            .and_then(|pem| super::load::parse_certs(&pem).ok())
            .and_then(|chain| chain.first().and_then(|c| super::der::parse(c)))
            .is_some_and(|f| f.not_after + GRACE < now);
        if expired {
            for ext in ["crt", "key", "json"] {
                let _ = storage.delete(&format!("{stem}.{ext}"));
            }
            storage.prune_dir(&key);
            done.certificates.push(key);
        }
    }
    for key in storage.list("ocsp") {
        let stale = storage
            .read(&key)
            .ok()
            .flatten()
            .and_then(|der| super::ocsp::next_update_of(&der))
            .is_some_and(|next| next < now);
        if stale {
            let _ = storage.delete(&key);
            done.staples.push(key);
        }
    }
    let stamp = serde_json::json!({"tls": {"timestamp": now}});
    if let Err(e) = storage.write(LAST_CLEAN, stamp.to_string().as_bytes(), false) {
        tracing::warn!(error = %e, "could not record the storage cleaning");
    }
    done
}

/// Cleans the storage of `state` now, then every interval.
pub async fn maintain(state: Arc<super::TlsState>) {
    if state.clean.disabled {
        return;
    }
    loop {
        let (storage, interval) = (state.storage.clone(), state.clean.interval);
        let now = super::der::now();
        let done = tokio::task::spawn_blocking(move || clean(&storage, now, interval))
            .await
            .unwrap_or_default();
        if done != Cleaned::default() {
            tracing::info!(certificates = ?done.certificates, staples = ?done.staples, "finished cleaning storage units");
        }
        tokio::time::sleep(state.clean.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_pem(name: &str, expired: bool) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        if expired {
            p.not_before = rcgen::date_time_ymd(2019, 1, 1);
            p.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        p.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn expired_certificates_go_and_fresh_ones_stay_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        for (name, expired) in [("old.test", true), ("new.test", false)] {
            let stem = format!("certificates/acme-v02/{name}/{name}");
            s.write(
                &format!("{stem}.crt"),
                cert_pem(name, expired).as_bytes(),
                false,
            )
            .unwrap();
            s.write(&format!("{stem}.key"), b"key", true).unwrap();
            s.write(&format!("{stem}.json"), b"{}", false).unwrap();
        }
        let now = crate::tls::der::now();
        let day = Duration::from_secs(86400);
        let done = clean(&s, now, day);
        assert_eq!(
            done.certificates,
            ["certificates/acme-v02/old.test/old.test.crt"]
        );
        assert!(!dir.path().join("certificates/acme-v02/old.test").exists());
        assert_eq!(
            s.list("certificates").len(),
            3,
            "the fresh certificate, key and metadata stay"
        );
        // another expired one appears: not cleaned again within the interval
        let stem = "certificates/acme-v02/gone.test/gone.test";
        s.write(
            &format!("{stem}.crt"),
            cert_pem("gone.test", true).as_bytes(),
            false,
        )
        .unwrap();
        assert_eq!(clean(&s, now + 60, day), Cleaned::default());
        let later = clean(&s, now + 86400 + 60, day);
        assert_eq!(later.certificates, [format!("{stem}.crt")]);
    }
}
