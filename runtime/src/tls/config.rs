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
    pub certificates: Option<Certificates>,
    pub automation: Option<Automation>,
    pub session_tickets: Option<SessionTickets>,
    pub cache: Option<CacheConfig>,
    #[serde(default)]
    pub disable_ocsp_stapling: bool,
    #[serde(default)]
    pub disable_storage_check: bool,
    #[serde(default)]
    pub disable_storage_clean: bool,
    /// DNS provider and resolvers (DNS-01): rejected at provisioning.
    pub dns: Option<Value>,
    pub resolvers: Option<Value>,
    pub ech: Option<Value>,
}

/// `apps.tls.certificates`: certificate loaders.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    #[serde(default)]
    pub load_files: Vec<LoadFile>,
    #[serde(default)]
    pub load_folders: Vec<String>,
    #[serde(default)]
    pub load_pem: Vec<LoadPem>,
    #[serde(default)]
    pub automate: Vec<String>,
}

/// One entry of `load_files`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadFile {
    pub certificate: String,
    pub key: String,
    pub format: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One entry of `load_pem`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPem {
    pub certificate: String,
    pub key: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `apps.tls.automation`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automation {
    #[serde(default)]
    pub policies: Vec<AutomationPolicy>,
    pub on_demand: Option<OnDemand>,
    pub ocsp_interval: Option<CaddyDuration>,
    pub renew_interval: Option<CaddyDuration>,
    pub storage_clean_interval: Option<CaddyDuration>,
}

/// One automation policy: which issuers manage which subjects, and how.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationPolicy {
    #[serde(default)]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub issuers: Vec<Map<String, Value>>,
    pub key_type: Option<String>,
    pub renewal_window_ratio: Option<f64>,
    #[serde(default)]
    pub on_demand: bool,
    #[serde(default)]
    pub reuse_private_keys: bool,
    /// Certificate managers (`tls.get_certificate.*`, keyed by `via`):
    /// refused by name at provisioning.
    #[serde(default)]
    pub get_certificate: Vec<Map<String, Value>>,
    #[serde(default)]
    pub must_staple: bool,
    #[serde(default)]
    pub disable_ocsp_stapling: bool,
    pub storage: Option<Map<String, Value>>,
}

/// `automation.on_demand`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnDemand {
    pub ask: Option<String>,
    pub permission: Option<Map<String, Value>>,
    pub rate_limit: Option<Value>,
}

/// `apps.tls.session_tickets`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionTickets {
    pub key_source: Option<Map<String, Value>>,
    pub rotation_interval: Option<CaddyDuration>,
    pub max_keys: Option<u32>,
    #[serde(default)]
    pub disable_rotation: bool,
    #[serde(default)]
    pub disabled: bool,
}

/// `apps.tls.cache`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub capacity: Option<usize>,
}

/// One entry of a server's `tls_connection_policies`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnPolicyConfig {
    #[serde(rename = "match")]
    pub matchers: Option<PolicyMatch>,
    pub certificate_selection: Option<CertSelection>,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub curves: Vec<String>,
    #[serde(default)]
    pub alpn: Vec<String>,
    pub protocol_min: Option<String>,
    pub protocol_max: Option<String>,
    pub client_authentication: Option<ClientAuthConfig>,
    pub default_sni: Option<String>,
    pub fallback_sni: Option<String>,
    pub insecure_secrets_log: Option<String>,
    #[serde(default)]
    pub drop: bool,
}

/// A connection policy's `match` (the `tls.handshake_match.*` modules).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMatch {
    pub sni: Option<Vec<String>>,
    pub remote_ip: Option<IpRanges>,
    pub local_ip: Option<IpRanges>,
}

/// `remote_ip` / `local_ip` handshake matchers.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRanges {
    #[serde(default)]
    pub ranges: Vec<String>,
    #[serde(default)]
    pub not_ranges: Vec<String>,
}

/// `certificate_selection`: narrows the certificates a policy may serve.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertSelection {
    #[serde(default)]
    pub serial_number: Vec<String>,
    #[serde(default)]
    pub subject_organization: Vec<String>,
    pub public_key_algorithm: Option<String>,
    #[serde(default)]
    pub any_tag: Vec<String>,
    #[serde(default)]
    pub all_tags: Vec<String>,
}

/// `client_authentication` of a connection policy.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    pub ca: Option<Map<String, Value>>,
    #[serde(default)]
    pub trusted_ca_certs: Vec<String>,
    #[serde(default)]
    pub trusted_ca_certs_pem_files: Vec<String>,
    #[serde(default)]
    pub trusted_leaf_certs: Vec<String>,
    #[serde(default)]
    pub verifiers: Vec<Map<String, Value>>,
    pub mode: Option<String>,
}

/// `apps.pki`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiAppConfig {
    #[serde(default)]
    pub certificate_authorities: BTreeMap<String, CaConfig>,
}

/// One certificate authority of the `pki` app.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    pub name: Option<String>,
    pub root_common_name: Option<String>,
    pub intermediate_common_name: Option<String>,
    pub intermediate_lifetime: Option<CaddyDuration>,
    /// How often Caddy checks the intermediate; bellhop checks it at every
    /// issuance, so any interval is met.
    pub maintenance_interval: Option<CaddyDuration>,
    /// The share of the intermediate's lifetime left when it is renewed.
    pub renewal_window_ratio: Option<f64>,
    pub install_trust: Option<bool>,
    pub root: Option<KeyPairFiles>,
    pub intermediate: Option<KeyPairFiles>,
    pub storage: Option<Map<String, Value>>,
}

/// A CA key pair given as files (`root`/`intermediate` of a CA).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairFiles {
    pub certificate: String,
    pub private_key: Option<String>,
    pub format: Option<String>,
}

/// The `internal` issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalIssuerConfig {
    pub module: String,
    pub ca: Option<String>,
    pub lifetime: Option<CaddyDuration>,
    #[serde(default)]
    pub sign_with_root: bool,
}

/// The `acme` issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeIssuerConfig {
    pub module: String,
    pub ca: Option<String>,
    pub test_ca: Option<String>,
    pub email: Option<String>,
    pub account_key: Option<String>,
    pub external_account: Option<ExternalAccount>,
    pub acme_timeout: Option<CaddyDuration>,
    pub challenges: Option<Challenges>,
    #[serde(default)]
    pub trusted_roots_pem_files: Vec<String>,
    pub preferred_chains: Option<Value>,
    pub certificate_lifetime: Option<CaddyDuration>,
    /// The ACME profile to order (draft-ietf-acme-profiles).
    pub profile: Option<String>,
}

/// `external_account` (EAB) of the ACME issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalAccount {
    pub key_id: String,
    pub mac_key: String,
}

/// `challenges` of the ACME issuer.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenges {
    pub http: Option<ChallengeConfig>,
    #[serde(rename = "tls-alpn")]
    pub tls_alpn: Option<ChallengeConfig>,
    pub dns: Option<Value>,
    pub bind_host: Option<String>,
}

/// One challenge type's settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeConfig {
    #[serde(default)]
    pub disabled: bool,
    pub alternate_port: Option<u16>,
}
