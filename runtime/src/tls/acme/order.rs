//! The ACME issuer's order: placed (with `notAfter` through [`super::wire`]
//! when `certificate_lifetime` asks), each authorization answered by an
//! HTTP-01 or TLS-ALPN-01 challenge on bellhop's own listeners, finalized
//! with a CSR for the names, the chain downloaded (and chosen among the
//! CA's alternates under `preferred_chains`).

use super::{alpn_cert, challenge, es, wire, AcmeIssuer, Registered};
use crate::tls::storage::Storage;
use instant_acme::{
    AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use std::time::SystemTime;

impl AcmeIssuer {
    pub(super) async fn obtain_from(
        &self,
        storage: &Storage,
        ca: &str,
        names: &[String],
        key: &rcgen::KeyPair,
    ) -> Result<(String, String), String> {
        let account = self.account(storage, ca).await?;
        let ids: Vec<Identifier> = names
            .iter()
            .map(|n| match n.parse() {
                Ok(ip) => Identifier::Ip(ip),
                Err(_) => Identifier::Dns(n.clone()),
            })
            .collect();
        // Our own signed requests, for what instant-acme cannot ask: one
        // directory read per issuance, and only when a setting needs them.
        let wire = match self.lifetime.is_some() || self.preferred_chains.is_some() {
            true => Some(wire::Wire::new(self.http()?, &account.signer, ca).await?),
            false => None,
        };
        let mut order = self.new_order(&account, wire.as_ref(), &ids).await?;
        let mut published = Vec::new();
        let mut shared = Vec::new();
        let mut authzs = order.authorizations();
        while let Some(a) = authzs.next().await {
            let mut a = a.map_err(es)?;
            match a.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                s => return Err(format!("authorization is {s:?}")),
            }
            let name = match &a.identifier().identifier {
                Identifier::Dns(d) => d.clone(),
                Identifier::Ip(ip) => ip.to_string(),
                other => return Err(format!("unsupported identifier {other:?}")),
            };
            let kind = self.pick(
                &a.challenges
                    .iter()
                    .map(|c| c.r#type.clone())
                    .collect::<Vec<_>>(),
            )?;
            let mut ch = a.challenge(kind.clone()).ok_or("challenge vanished")?;
            let key_auth = ch.key_authorization();
            let kind_name = match kind {
                ChallengeType::Http01 => "http-01",
                _ => "tls-alpn-01",
            };
            shared.extend(challenge::share(
                storage,
                &name,
                kind_name,
                &ch.token,
                key_auth.as_str(),
            ));
            published.push(match kind {
                ChallengeType::Http01 => challenge::publish_http01(&ch.token, key_auth.as_str()),
                _ => challenge::publish_tls_alpn(
                    &name,
                    alpn_cert(&name, key_auth.digest().as_ref())?,
                ),
            });
            tracing::info!(name, challenge = ?kind, "solving ACME challenge");
            ch.set_ready().await.map_err(es)?;
        }
        let retry = RetryPolicy::new().timeout(self.timeout);
        let status = order.poll_ready(&retry).await.map_err(es)?;
        if status != OrderStatus::Ready {
            return Err(format!("order ended {status:?}"));
        }
        drop((published, shared));
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(es)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if self.must_staple {
            params.custom_extensions = vec![crate::tls::pki::must_staple_extension()];
        }
        let csr = params.serialize_request(key).map_err(es)?;
        order.finalize_csr(csr.der()).await.map_err(es)?;
        let mut chain = order.poll_certificate(&retry).await.map_err(es)?;
        if let (Some(prefs), Some(wire)) = (&self.preferred_chains, &wire) {
            let url = order
                .state()
                .certificate
                .clone()
                .ok_or("no certificate URL")?;
            // The default chain again: instant-acme keeps the response's
            // Link headers, which name the alternates, to itself.
            chain = prefs.select(wire.chains(&url).await?);
        }
        Ok((chain, key.serialize_pem()))
    }

    /// Places the order: through instant-acme, or through our own request
    /// when it must carry `notAfter` (which instant-acme cannot send).
    async fn new_order(
        &self,
        reg: &Registered,
        wire: Option<&wire::Wire<'_>>,
        ids: &[Identifier],
    ) -> Result<instant_acme::Order, String> {
        let (Some(lifetime), Some(wire)) = (self.lifetime, wire) else {
            let mut new = NewOrder::new(ids);
            if let Some(p) = &self.profile {
                new = new.profile(p);
            }
            return reg.account.new_order(&new).await.map_err(es);
        };
        let not_after = SystemTime::now() + lifetime;
        let url = wire
            .new_order(ids, self.profile.as_deref(), not_after)
            .await?;
        reg.account.order(url).await.map_err(es)
    }

    fn pick(&self, offered: &[ChallengeType]) -> Result<ChallengeType, String> {
        if self.http01 && offered.contains(&ChallengeType::Http01) {
            return Ok(ChallengeType::Http01);
        }
        if self.tls_alpn01 && offered.contains(&ChallengeType::TlsAlpn01) {
            return Ok(ChallengeType::TlsAlpn01);
        }
        Err(format!("no enabled challenge among {offered:?}"))
    }
}
