//! ACME's signed requests (RFC 8555 §6.2): a flattened JWS whose protected
//! header names the algorithm, a nonce, the request URL and either the
//! account's key (`jwk`, for new accounts and revocations by key) or its
//! URL (`kid`); verified with ring. Keys: ES256, ES384 (EC P-256/P-384),
//! RS256 (RSA 2048–8192 bits) and EdDSA (Ed25519), as smallstep accepts.
//! A key's RFC 7638 thumbprint identifies its account and makes the
//! challenges' key authorizations.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a request's JWS was refused, as an ACME problem type and detail.
#[derive(Debug)]
pub struct JwsError {
    pub kind: &'static str,
    pub detail: String,
}

fn malformed(detail: impl Into<String>) -> JwsError {
    JwsError {
        kind: "malformed",
        detail: detail.into(),
    }
}

#[derive(Deserialize)]
struct Flattened {
    protected: String,
    #[serde(default)]
    payload: String,
    signature: String,
}

/// The protected header's fields ACME uses.
#[derive(Deserialize)]
pub struct Protected {
    pub alg: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub url: String,
    pub jwk: Option<Map<String, Value>>,
    pub kid: Option<String>,
}

/// A parsed, not yet verified request.
pub struct Jws {
    pub header: Protected,
    /// The decoded payload (empty for POST-as-GET).
    pub payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// A public key from a JWK.
#[derive(Clone, Debug)]
pub struct Jwk {
    /// The JWK as it was sent (stored with the account).
    pub json: Map<String, Value>,
    kind: KeyKind,
}

#[derive(Clone, Debug)]
enum KeyKind {
    Ec { p384: bool, point: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed25519(Vec<u8>),
}

/// Parses a request body as a flattened JWS.
pub fn parse(body: &[u8]) -> Result<Jws, JwsError> {
    let f: Flattened = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("the request is not a flattened JWS: {e}")))?;
    let header_bytes = B64
        .decode(&f.protected)
        .map_err(|_| malformed("the protected header is not base64url"))?;
    let header: Protected = serde_json::from_slice(&header_bytes)
        .map_err(|e| malformed(format!("the protected header: {e}")))?;
    let payload = B64
        .decode(&f.payload)
        .map_err(|_| malformed("the payload is not base64url"))?;
    let signature = B64
        .decode(&f.signature)
        .map_err(|_| malformed("the signature is not base64url"))?;
    let mut signing_input = f.protected.into_bytes();
    signing_input.push(b'.');
    signing_input.extend_from_slice(f.payload.as_bytes());
    Ok(Jws {
        header,
        payload,
        signing_input,
        signature,
    })
}

impl Jws {
    /// Checks the signature with `key`, which must suit the header's `alg`.
    pub fn verify(&self, key: &Jwk) -> Result<(), JwsError> {
        let bad_sig = || malformed("the JWS signature does not verify");
        let ok = match (&key.kind, self.header.alg.as_str()) {
            (KeyKind::Ec { p384: false, point }, "ES256") => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(&self.signing_input, &self.signature)
            }
            (KeyKind::Ec { p384: true, point }, "ES384") => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(&self.signing_input, &self.signature)
            }
            (KeyKind::Rsa { n, e }, "RS256") => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &self.signing_input,
                &self.signature,
            ),
            (KeyKind::Ed25519(x), "EdDSA") => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(&self.signing_input, &self.signature),
            (_, alg) => {
                return Err(JwsError {
                    kind: "badSignatureAlgorithm",
                    detail: format!(
                        "the algorithm {alg} does not suit the key, or is not supported"
                    ),
                })
            }
        };
        ok.map_err(|_| bad_sig())
    }

    /// The payload as JSON (`{}` for an empty payload, as POST-as-GET).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JwsError> {
        let bytes: &[u8] = if self.payload.is_empty() {
            b"{}"
        } else {
            &self.payload
        };
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("the payload: {e}")))
    }
}

fn field<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, JwsError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("the JWK has no `{name}`")))
}

fn bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JwsError> {
    B64.decode(field(jwk, name)?)
        .map_err(|_| malformed(format!("the JWK's `{name}` is not base64url")))
}

impl Jwk {
    /// Reads a JWK (EC P-256/P-384, RSA, or Ed25519).
    pub fn from_json(json: Map<String, Value>) -> Result<Jwk, JwsError> {
        let kind = match field(&json, "kty")? {
            "EC" => {
                let (p384, len) = match field(&json, "crv")? {
                    "P-256" => (false, 32),
                    "P-384" => (true, 48),
                    crv => return Err(malformed(format!("unsupported curve {crv}"))),
                };
                let (x, y) = (bytes(&json, "x")?, bytes(&json, "y")?);
                if x.len() != len || y.len() != len {
                    return Err(malformed("the EC key's coordinates have the wrong length"));
                }
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                KeyKind::Ec { p384, point }
            }
            "RSA" => KeyKind::Rsa {
                n: bytes(&json, "n")?,
                e: bytes(&json, "e")?,
            },
            "OKP" if field(&json, "crv")? == "Ed25519" => KeyKind::Ed25519(bytes(&json, "x")?),
            kty => return Err(malformed(format!("unsupported key type {kty}"))),
        };
        Ok(Jwk { json, kind })
    }

    /// The RFC 7638 thumbprint, base64url.
    pub fn thumbprint(&self) -> String {
        // The required members in lexicographic order, no whitespace.
        let keys: &[&str] = match self.kind {
            KeyKind::Ec { .. } => &["crv", "kty", "x", "y"],
            KeyKind::Rsa { .. } => &["e", "kty", "n"],
            KeyKind::Ed25519(_) => &["crv", "kty", "x"],
        };
        let members: Vec<String> = keys
            .iter()
            .map(|k| {
                let v = self.json.get(*k).and_then(Value::as_str).unwrap_or("");
                format!("{}:{}", Value::from(*k), Value::from(v))
            })
            .collect();
        let canonical = format!("{{{}}}", members.join(","));
        B64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1's RSA key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let json = serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
        let Value::Object(m) = json else {
            unreachable!()
        };
        let k = Jwk::from_json(m).unwrap();
        assert_eq!(
            k.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn es256_signature_verifies_and_a_changed_payload_does_not() {
        use ring::rand::SystemRandom;
        use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])});
        let protected = B64.encode(
            serde_json::json!({"alg": "ES256", "jwk": jwk, "nonce": "n", "url": "u"}).to_string(),
        );
        let sign = |payload: &str| {
            let input = format!("{protected}.{payload}");
            B64.encode(pair.sign(&rng, input.as_bytes()).unwrap())
        };
        let payload = B64.encode(b"{\"a\":1}");
        let body = serde_json::json!({"protected": protected, "payload": payload, "signature": sign(&payload)});
        let jws = parse(body.to_string().as_bytes()).unwrap();
        let key = Jwk::from_json(jws.header.jwk.clone().unwrap()).unwrap();
        jws.verify(&key).unwrap();
        let forged = serde_json::json!({"protected": protected, "payload": B64.encode(b"{\"a\":2}"), "signature": sign(&payload)});
        let jws = parse(forged.to_string().as_bytes()).unwrap();
        assert_eq!(jws.verify(&key).unwrap_err().kind, "malformed");
    }
}
