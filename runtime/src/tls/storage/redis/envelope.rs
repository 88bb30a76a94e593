//! How a value is kept in Redis, as pberkel/caddy-storage-redis keeps it
//! (so either server reads what the other wrote): a JSON object
//! `{"value": <base64>, "modified": <RFC 3339>, "size": <bytes before
//! compression>, "compression": 0|1|2, "encryption": 0|1}`. The value is
//! compressed first (raw DEFLATE = 1, zlib = 2; kept only when smaller),
//! then sealed with AES-256-GCM (the nonce before the ciphertext, as Go's
//! `gcm.Seal(nonce, nonce, …)`).

use super::settings::{Compression, Settings};
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::SecureRandom as _;
use std::io::{Read as _, Write as _};

/// pberkel's bound on a decompressed value.
const MAX_DECOMPRESSED: u64 = 4 << 20;

fn bad(key: &str, what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("storage key {key}: {what}"),
    )
}

fn compress(data: &[u8], how: Compression) -> std::io::Result<Vec<u8>> {
    let level = flate2::Compression::default();
    match how {
        Compression::Zlib => {
            let mut w = flate2::write::ZlibEncoder::new(Vec::new(), level);
            w.write_all(data)?;
            w.finish()
        }
        _ => {
            let mut w = flate2::write::DeflateEncoder::new(Vec::new(), level);
            w.write_all(data)?;
            w.finish()
        }
    }
}

fn decompress(data: &[u8], flag: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let r: Box<dyn std::io::Read> = match flag {
        2 => Box::new(flate2::read::ZlibDecoder::new(data)),
        _ => Box::new(flate2::read::DeflateDecoder::new(data)),
    };
    r.take(MAX_DECOMPRESSED + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("decompressed value exceeds limit ({MAX_DECOMPRESSED} bytes)"),
        ));
    }
    Ok(out)
}

fn cipher(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES key"))
}

/// The stored form of `data` under `s`'s compression and encryption.
pub fn seal(s: &Settings, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut value = data.to_vec();
    let mut compression = 0;
    if s.compression != Compression::None {
        let c = compress(data, s.compression)?;
        if c.len() < data.len() {
            value = c;
            compression = if s.compression == Compression::Zlib {
                2
            } else {
                1
            };
        }
    }
    let mut encryption = 0;
    if let Some(k) = &s.encryption_key {
        let mut nonce = [0u8; NONCE_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| std::io::Error::other("no randomness for a nonce"))?;
        let mut sealed = value;
        cipher(k)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| std::io::Error::other("cannot encrypt"))?;
        value = [nonce.as_slice(), &sealed].concat();
        encryption = 1;
    }
    let modified = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(serde_json::json!({
        "value": base64::engine::general_purpose::STANDARD.encode(&value),
        "modified": modified,
        "size": data.len(),
        "compression": compression,
        "encryption": encryption,
    })
    .to_string()
    .into_bytes())
}

/// The value stored as `raw` under `key`.
pub fn open(s: &Settings, key: &str, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| bad(key, format!("unable to unmarshal value: {e}")))?;
    let mut value = match v.get("value") {
        Some(serde_json::Value::String(b)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| bad(key, e))?,
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(_) => return Err(bad(key, "value is not base64 text")),
    };
    let flag = |name: &str| v.get(name).and_then(|f| f.as_u64()).unwrap_or(0);
    if flag("encryption") > 0 {
        let Some(k) = &s.encryption_key else {
            return Err(bad(
                key,
                "stored encrypted, and no encryption_key is configured",
            ));
        };
        if value.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(bad(key, "invalid encrypted data"));
        }
        let mut sealed = value.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&value).map_err(|_| bad(key, "bad nonce"))?;
        let plain = cipher(k)
            .open_in_place(nonce, Aad::empty(), &mut sealed)
            .map_err(|_| bad(key, "decryption failure (wrong encryption_key?)"))?;
        value = plain.to_vec();
    }
    if flag("compression") > 0 {
        value = decompress(&value, flag("compression")).map_err(|e| bad(key, e))?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: serde_json::Value) -> Settings {
        let mut o = v.as_object().unwrap().clone();
        o.insert("module".into(), json!("redis"));
        Settings::parse(&o, "storage").unwrap()
    }

    #[test]
    fn values_round_trip_compressed_and_encrypted() {
        let data = "-----BEGIN CERTIFICATE-----\n".repeat(40);
        for cfg in [
            json!({}),
            json!({"compression": "flate"}),
            json!({"compression": "zlib", "encryption_key": "0123456789abcdef0123456789abcdef"}),
        ] {
            let s = settings(cfg.clone());
            let raw = seal(&s, data.as_bytes()).unwrap();
            let env: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(env["size"], data.len(), "{cfg}");
            assert_eq!(open(&s, "k", &raw).unwrap(), data.as_bytes(), "{cfg}");
            if cfg.get("compression").is_some() {
                assert!(env["compression"].as_u64().unwrap() > 0, "{cfg}");
            }
        }
        // A wrong key is an error naming the key, not garbage.
        let a = settings(json!({"encryption_key": "a".repeat(32)}));
        let b = settings(json!({"encryption_key": "b".repeat(32)}));
        let e = open(&b, "certificates/x.key", &seal(&a, b"secret").unwrap()).unwrap_err();
        assert!(e.to_string().contains("certificates/x.key"), "{e}");
        // Incompressible data is stored as it is.
        let s = settings(json!({"compression": "flate"}));
        let env: serde_json::Value = serde_json::from_slice(&seal(&s, b"ab").unwrap()).unwrap();
        assert_eq!(env["compression"], 0);
    }

    #[test]
    fn reads_what_go_wrote() {
        // pberkel's StorageData as Go's encoding/json writes it: raw
        // DEFLATE of "hello hello hello hello", base64, a local time.
        let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        w.write_all(b"hello hello hello hello").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(w.finish().unwrap());
        let raw = format!(
            r#"{{"value":"{b64}","modified":"2025-03-01T10:00:00.123456789+01:00","size":23,"compression":1,"encryption":0}}"#
        );
        let s = settings(json!({}));
        assert_eq!(
            open(&s, "k", raw.as_bytes()).unwrap(),
            b"hello hello hello hello"
        );
    }
}
