//! The typed model of the `tls` and `pki` apps and of a server's
//! `tls_connection_policies` (Caddy's JSON schema, decoded strictly).
//!
//! Module-valued fields (issuers, client-auth `ca`, storage) stay raw JSON
//! and are decoded by their owners, so an unknown module is named with its
//! ID and path.

use crate::config::CaddyDuration;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `apps.tls`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsAppConfig {
    pub(crate) certificates: Option<Certificates>,
    pub(crate) automation: Option<Automation>,
    pub(crate) session_tickets: Option<SessionTickets>,
    pub(crate) cache: Option<CacheConfig>,
    #[serde(default)]
    pub(crate) disable_ocsp_stapling: bool,
    #[serde(default)]
    pub(crate) disable_storage_check: bool,
    #[serde(default)]
    pub(crate) disable_storage_clean: bool,
    /// DNS provider and resolvers (DNS-01): rejected at provisioning.
    pub(crate) dns: Option<Value>,
    pub(crate) resolvers: Option<Value>,
    pub(crate) ech: Option<Value>,
}

/// `apps.tls.certificates`: certificate loaders.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    #[serde(default)]
    pub(crate) load_files: Vec<LoadFile>,
    #[serde(default)]
    pub(crate) load_folders: Vec<String>,
    #[serde(default)]
    pub(crate) load_pem: Vec<LoadPem>,
    pub(crate) load_storage: Option<LoadStorage>,
    #[serde(default)]
    pub(crate) automate: Vec<String>,
}

/// `load_storage`: certificate and key PEM read from the config's storage.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadStorage {
    #[serde(default)]
    pub(crate) pairs: Vec<LoadFile>,
}

/// One entry of `load_files`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    pub(crate) certificate: String,
    pub(crate) key: String,
    pub(crate) format: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
}

/// One entry of `load_pem`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPem {
    pub(crate) certificate: String,
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
}

/// `apps.tls.automation`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automation {
    #[serde(default)]
    pub(crate) policies: Vec<AutomationPolicy>,
    pub(crate) on_demand: Option<OnDemand>,
    pub(crate) ocsp_interval: Option<CaddyDuration>,
    pub(crate) renew_interval: Option<CaddyDuration>,
    pub(crate) storage_clean_interval: Option<CaddyDuration>,
}

/// One automation policy: which issuers manage which subjects, and how.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationPolicy {
    #[serde(default)]
    pub(crate) subjects: Vec<String>,
    #[serde(default)]
    pub(crate) issuers: Vec<Map<String, Value>>,
    pub(crate) key_type: Option<String>,
    pub(crate) renewal_window_ratio: Option<f64>,
    #[serde(default)]
    pub(crate) on_demand: bool,
    #[serde(default)]
    pub(crate) reuse_private_keys: bool,
    /// Certificate managers (`tls.get_certificate.*`, keyed by `via`):
    /// refused by name at provisioning.
    #[serde(default)]
    pub(crate) get_certificate: Vec<Map<String, Value>>,
    #[serde(default)]
    pub(crate) must_staple: bool,
    #[serde(default)]
    pub(crate) disable_ocsp_stapling: bool,
    pub(crate) storage: Option<Map<String, Value>>,
}

/// `automation.on_demand`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnDemand {
    pub(crate) ask: Option<String>,
    pub(crate) permission: Option<Map<String, Value>>,
    pub(crate) rate_limit: Option<Value>,
}

/// `apps.tls.session_tickets`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionTickets {
    pub(crate) key_source: Option<Map<String, Value>>,
    pub(crate) rotation_interval: Option<CaddyDuration>,
    pub(crate) max_keys: Option<u32>,
    #[serde(default)]
    pub(crate) disable_rotation: bool,
    #[serde(default)]
    pub(crate) disabled: bool,
}

/// `apps.tls.cache`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub(crate) capacity: Option<usize>,
}

/// One entry of a server's `tls_connection_policies`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnPolicyConfig {
    #[serde(rename = "match")]
    pub(crate) matchers: Option<PolicyMatch>,
    pub(crate) certificate_selection: Option<CertSelection>,
    #[serde(default)]
    pub(crate) cipher_suites: Vec<String>,
    #[serde(default)]
    pub(crate) curves: Vec<String>,
    #[serde(default)]
    pub(crate) alpn: Vec<String>,
    pub(crate) protocol_min: Option<String>,
    pub(crate) protocol_max: Option<String>,
    pub(crate) client_authentication: Option<ClientAuthConfig>,
    pub(crate) default_sni: Option<String>,
    pub(crate) fallback_sni: Option<String>,
    pub(crate) insecure_secrets_log: Option<String>,
    #[serde(default)]
    pub(crate) drop: bool,
}

/// A connection policy's `match` (the `tls.handshake_match.*` modules).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMatch {
    pub(crate) sni: Option<Vec<String>>,
    pub(crate) sni_regexp: Option<SniRegexp>,
    pub(crate) remote_ip: Option<IpRanges>,
    pub(crate) local_ip: Option<IpRanges>,
}

/// `sni_regexp`: the server name matches a Go regexp (`name`, which
/// labels its captures in Caddy's replacer, is read by nothing in Caddy
/// either: see unread.rs).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniRegexp {
    pub(crate) pattern: String,
    pub(crate) name: Option<String>,
}

/// `remote_ip` / `local_ip` handshake matchers.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRanges {
    #[serde(default)]
    pub(crate) ranges: Vec<String>,
    #[serde(default)]
    pub(crate) not_ranges: Vec<String>,
}

/// `certificate_selection`: narrows the certificates a policy may serve.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertSelection {
    #[serde(default)]
    pub(crate) serial_number: Vec<String>,
    #[serde(default)]
    pub(crate) subject_organization: Vec<String>,
    pub(crate) public_key_algorithm: Option<String>,
    #[serde(default)]
    pub(crate) any_tag: Vec<String>,
    #[serde(default)]
    pub(crate) all_tags: Vec<String>,
}

/// `client_authentication` of a connection policy.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    pub(crate) ca: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) trusted_ca_certs: Vec<String>,
    #[serde(default)]
    pub(crate) trusted_ca_certs_pem_files: Vec<String>,
    #[serde(default)]
    pub(crate) trusted_leaf_certs: Vec<String>,
    #[serde(default)]
    pub(crate) verifiers: Vec<Map<String, Value>>,
    pub(crate) mode: Option<String>,
}

/// `apps.pki`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiAppConfig {
    #[serde(default)]
    pub(crate) certificate_authorities: BTreeMap<String, CaConfig>,
}

/// One certificate authority of the `pki` app.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    pub(crate) name: Option<String>,
    pub(crate) root_common_name: Option<String>,
    pub(crate) intermediate_common_name: Option<String>,
    pub(crate) intermediate_lifetime: Option<CaddyDuration>,
    /// How often Caddy checks the intermediate; bellhop checks it at every
    /// issuance, so any interval is met.
    pub(crate) maintenance_interval: Option<CaddyDuration>,
    /// The share of the intermediate's lifetime left when it is renewed.
    pub(crate) renewal_window_ratio: Option<f64>,
    pub(crate) install_trust: Option<bool>,
    pub(crate) root: Option<KeyPairFiles>,
    pub(crate) intermediate: Option<KeyPairFiles>,
    pub(crate) storage: Option<Map<String, Value>>,
}

/// A CA key pair given as files (`root`/`intermediate` of a CA).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairFiles {
    pub(crate) certificate: String,
    pub(crate) private_key: Option<String>,
    pub(crate) format: Option<String>,
}

/// The `internal` issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalIssuerConfig {
    pub(crate) module: String,
    pub(crate) ca: Option<String>,
    pub(crate) lifetime: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) sign_with_root: bool,
}

/// The `zerossl` issuer (ZeroSSL's REST API, not its ACME endpoint).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZeroSslIssuerConfig {
    pub(crate) module: String,
    #[serde(default)]
    pub(crate) api_key: String,
    #[serde(default)]
    pub(crate) validity_days: u32,
    pub(crate) listen_host: Option<String>,
    pub(crate) alternate_http_port: Option<u16>,
    pub(crate) cname_validation: Option<Value>,
}

/// The `acme` issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeIssuerConfig {
    pub(crate) module: String,
    pub(crate) ca: Option<String>,
    pub(crate) test_ca: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) account_key: Option<String>,
    pub(crate) external_account: Option<ExternalAccount>,
    pub(crate) acme_timeout: Option<CaddyDuration>,
    pub(crate) challenges: Option<Challenges>,
    #[serde(default)]
    pub(crate) trusted_roots_pem_files: Vec<String>,
    pub(crate) preferred_chains: Option<Value>,
    pub(crate) certificate_lifetime: Option<CaddyDuration>,
    /// The ACME profile to order (draft-ietf-acme-profiles).
    pub(crate) profile: Option<String>,
}

/// `external_account` (EAB) of the ACME issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalAccount {
    pub(crate) key_id: String,
    pub(crate) mac_key: String,
}

/// `challenges` of the ACME issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenges {
    pub(crate) http: Option<ChallengeConfig>,
    #[serde(rename = "tls-alpn")]
    pub(crate) tls_alpn: Option<ChallengeConfig>,
    pub(crate) dns: Option<Value>,
    pub(crate) bind_host: Option<String>,
}

/// One challenge type's settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeConfig {
    #[serde(default)]
    pub(crate) disabled: bool,
    pub(crate) alternate_port: Option<u16>,
}
