//! Issuers (`tls.issuance.*`) and automation policies: which issuer
//! manages which names, and the `internal` issuer that signs leaves with
//! the `pki` app's CA.

use super::acme::AcmeIssuer;
use super::config::{AutomationPolicy, InternalIssuerConfig};
use super::keys::KeyType;
use super::pki::DEFAULT_CA;
use super::policy::name_matches;
use super::zerossl::ZeroSslIssuer;
use super::TlsState;
use crate::error::Error;
use rcgen::KeyPair;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// certmagic's default renewal window: the last third of the lifetime.
pub const DEFAULT_RENEWAL_RATIO: f64 = 1.0 / 3.0;
const DEFAULT_INTERNAL_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A certificate issuer.
pub enum Issuer {
    Internal(InternalIssuer),
    Acme(Arc<AcmeIssuer>),
    ZeroSsl(ZeroSslIssuer),
}

/// The `internal` issuer: leaves from a `pki` CA.
pub struct InternalIssuer {
    pub ca: String,
    pub lifetime: Duration,
    pub sign_with_root: bool,
    /// Issue with the TLS Feature (Must-Staple) extension.
    pub must_staple: bool,
}

impl Issuer {
    /// Decodes one issuer module object.
    pub fn provision(obj: &Map<String, Value>, at: &str) -> Result<Issuer, Error> {
        let value = Value::Object(obj.clone());
        match obj.get("module").and_then(Value::as_str) {
            Some("internal") => {
                let c: InternalIssuerConfig = crate::config::decode(&value, at)?;
                crate::config::unread::internal_issuer(&c);
                Ok(Issuer::Internal(InternalIssuer {
                    ca: c
                        .ca
                        .filter(|c| !c.is_empty())
                        .unwrap_or_else(|| DEFAULT_CA.into()),
                    lifetime: c
                        .lifetime
                        .map(|d| d.0)
                        .filter(|d| !d.is_zero())
                        .unwrap_or(DEFAULT_INTERNAL_LIFETIME),
                    sign_with_root: c.sign_with_root,
                    must_staple: false,
                }))
            }
            Some("acme") => Ok(Issuer::Acme(Arc::new(AcmeIssuer::provision(&value, at)?))),
            Some("zerossl") => Ok(Issuer::ZeroSsl(ZeroSslIssuer::provision(&value, at)?)),
            Some(other) => Err(Error::UnknownModule {
                path: format!("{at}.module"),
                id: format!("tls.issuance.{other}"),
            }),
            None => Err(Error::config(at, "module name missing: expected `module`")),
        }
    }

    /// The issuer's storage key (its directory under `certificates/`).
    pub fn key(&self) -> String {
        match self {
            Issuer::Internal(i) => i.ca.clone(),
            Issuer::Acme(a) => a.storage_key(),
            // certmagic's ZeroSSLIssuer.IssuerKey.
            Issuer::ZeroSsl(_) => "zerossl".into(),
        }
    }

    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Issuer::Internal(_) => "internal",
            Issuer::Acme(_) => "acme",
            Issuer::ZeroSsl(_) => "zerossl",
        }
    }

    /// Obtains a certificate for `names` with the private key `key`
    /// (a new one, or the stored one under `reuse_private_keys`):
    /// (PEM chain, PEM key).
    pub async fn issue(
        &self,
        state: &TlsState,
        names: &[String],
        key: &KeyPair,
    ) -> Result<(String, String), String> {
        match self {
            Issuer::Internal(i) => i.issue(state, names, key),
            Issuer::Acme(a) => a.obtain(&state.storage, names, key).await,
            Issuer::ZeroSsl(z) => z.obtain(&state.storage, names, key).await,
        }
    }
}

impl Issuer {
    /// This issuer asking for Must-Staple certificates when `on` (a
    /// policy's `must_staple`).
    pub fn with_must_staple(mut self, on: bool) -> Issuer {
        match &mut self {
            Issuer::Internal(i) => i.must_staple = on,
            Issuer::Acme(a) => {
                if let Some(a) = Arc::get_mut(a) {
                    a.must_staple = on;
                }
            }
            Issuer::ZeroSsl(z) => z.must_staple = on,
        }
        self
    }
}

impl InternalIssuer {
    /// Signs a leaf for `key` synchronously.
    pub fn issue(
        &self,
        state: &TlsState,
        names: &[String],
        key: &KeyPair,
    ) -> Result<(String, String), String> {
        state.with_ca(&self.ca, |ca| {
            ca.issue(
                names,
                key,
                self.lifetime,
                self.sign_with_root,
                self.must_staple,
            )
        })
    }
}

/// A compiled automation policy.
pub struct AutoPolicy {
    pub subjects: Vec<String>,
    pub issuers: Vec<Arc<Issuer>>,
    pub renewal_ratio: f64,
    pub on_demand: bool,
    pub key_type: KeyType,
    /// Renewals (and new orders) reuse the private key in storage
    /// instead of generating one (certmagic's `ReusePrivateKeys`).
    pub reuse_private_keys: bool,
    /// No OCSP stapling for the certificates it manages.
    pub disable_ocsp_stapling: bool,
    /// Certificate managers asked during handshakes (`get_certificate`).
    pub managers: Vec<super::managers::Manager>,
}

impl AutoPolicy {
    /// Compiles one `automation.policies` entry.
    pub fn provision(p: &AutomationPolicy, at: &str) -> Result<AutoPolicy, Error> {
        if p.storage.is_some() {
            return Err(Error::config(
                format!("{at}.storage"),
                "per-policy storage is not supported; set the top-level storage",
            ));
        }
        let mut managers = p
            .get_certificate
            .iter()
            .enumerate()
            .map(|(i, m)| {
                super::managers::Manager::provision(m, &format!("{at}.get_certificate[{i}]"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if p.on_demand && managers.is_empty() {
            // Caddy's convenience: an on-demand policy asks tailscaled
            // for `*.ts.net` names (others pass through at once).
            managers.push(super::managers::Manager::Tailscale);
        }
        let key_type = KeyType::parse(
            p.key_type.as_deref().unwrap_or(""),
            &format!("{at}.key_type"),
        )?;
        let ratio = p.renewal_window_ratio.unwrap_or(DEFAULT_RENEWAL_RATIO);
        if !(0.0..1.0).contains(&ratio) {
            return Err(Error::config(
                format!("{at}.renewal_window_ratio"),
                "must be between 0 and 1",
            ));
        }
        let issuers = p
            .issuers
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Issuer::provision(o, &format!("{at}.issuers[{i}]"))
                    .map(|iss| Arc::new(iss.with_must_staple(p.must_staple)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AutoPolicy {
            subjects: p.subjects.iter().map(|s| s.to_lowercase()).collect(),
            issuers,
            renewal_ratio: if ratio == 0.0 {
                DEFAULT_RENEWAL_RATIO
            } else {
                ratio
            },
            on_demand: p.on_demand,
            key_type,
            reuse_private_keys: p.reuse_private_keys,
            disable_ocsp_stapling: p.disable_ocsp_stapling,
            managers,
        })
    }

    /// Whether the policy covers `name` (no subjects: every name).
    pub fn covers(&self, name: &str) -> bool {
        self.subjects.is_empty() || self.subjects.iter().any(|s| name_matches(s, name))
    }

    /// A policy for `subjects` with one issuer.
    pub fn with_issuer(subjects: Vec<String>, issuer: Issuer) -> AutoPolicy {
        AutoPolicy::with_issuers(subjects, vec![Arc::new(issuer)])
    }

    /// A policy for `subjects` with `issuers` and default settings.
    pub fn with_issuers(subjects: Vec<String>, issuers: Vec<Arc<Issuer>>) -> AutoPolicy {
        AutoPolicy {
            subjects,
            issuers,
            renewal_ratio: DEFAULT_RENEWAL_RATIO,
            on_demand: false,
            key_type: KeyType::default(),
            reuse_private_keys: false,
            disable_ocsp_stapling: false,
            managers: Vec::new(),
        }
    }
}

/// The default internal issuer (CA `local`).
pub fn default_internal() -> Issuer {
    Issuer::Internal(InternalIssuer {
        ca: DEFAULT_CA.into(),
        lifetime: DEFAULT_INTERNAL_LIFETIME,
        sign_with_root: false,
        must_staple: false,
    })
}
