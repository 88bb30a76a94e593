//! Parsing an upstream's response head where it was read: the fields
//! noted for framing and keep-alive as they are met, and kept as
//! [`Keep`] says: in a map (values sharing the read buffer), or as they
//! came ([`RawFields`]).

use super::fields::{Lines, Noted};
use super::{H1Error, Keep, MAX_HEADERS};
use crate::http::h1::names::Names;
use crate::http::raw_fields::RawFields;
use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, StatusCode, Version};
use std::mem::MaybeUninit;

/// A response head as parsed, before its framing is worked out.
pub(super) struct Parsed {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub raw: Option<RawFields>,
    pub noted: Noted,
}

/// Parses a complete response head off the front of `buf`; `None` when
/// more bytes are needed (`names`: the connection's last ones). The
/// fields are kept as `keep` says (a 101's all go into the map).
pub(super) fn parse_head(
    buf: &mut BytesMut,
    names: &mut Names,
    spans: &mut Vec<[u32; 4]>,
    max: usize,
    keep: Keep,
) -> Result<Option<Parsed>, H1Error> {
    // Uninitialised slots, and spans as u32: no 8 KiB of zeroes per head.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut fields,
    );
    let max = max.min(1 << 30);
    let too_large = || H1Error::Malformed(format!("head larger than {max} bytes"));
    // As Go's MaxResponseHeaderBytes: a head past the limit fails whether
    // it came whole or in parts.
    let len = match parsed {
        Ok(httparse::Status::Complete(n)) if n > max => return Err(too_large()),
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= max => return Err(too_large()),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(H1Error::Malformed(e.to_string())),
    };
    let code = resp.code.unwrap_or(0);
    let status =
        StatusCode::from_u16(code).map_err(|_| H1Error::Malformed(format!("status {code}")))?;
    let version = if resp.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let base = buf.as_ptr() as usize;
    let at = |p: *const u8| (p as usize - base) as u32;
    spans.clear();
    spans.extend(resp.headers.iter().map(|f| {
        let (ns, vs) = (at(f.name.as_ptr()), at(f.value.as_ptr()));
        [ns, ns + f.name.len() as u32, vs, vs + f.value.len() as u32]
    }));
    let raw = buf.split_to(len).freeze();
    let drop_hop = keep != Keep::All && status != StatusCode::SWITCHING_PROTOCOLS;
    let first = spans.first().map_or(len, |s| s[0] as usize);
    let as_raw = matches!(keep, Keep::Raw | Keep::RawUnlessGzip);
    // (A head without fields has no `Content-Length` to frame by.)
    let mut lines = (as_raw && drop_hop && !spans.is_empty() && raw.ends_with(b"\r\n\r\n"))
        .then(|| Lines::new(raw.clone(), first..len - 2, keep == Keep::RawUnlessGzip))
        .flatten();
    let mut noted = Noted::new();
    let mut hop = 0u128;
    for (i, &[ns, ne, vs, ve]) in spans.iter().enumerate() {
        let name = field_name(names, i, &raw[ns as usize..ne as usize])?;
        let value = &raw[vs as usize..ve as usize];
        let dropped = noted.note(&name, value);
        hop |= u128::from(dropped) << i;
        if let Some(l) = &mut lines {
            let end = spans.get(i + 1).map_or(len - 2, |s| s[0] as usize);
            if !l.line(&name, value, dropped, ns as usize..end) {
                lines = None;
            }
        }
    }
    let raw_fields = lines.and_then(Lines::finish);
    let mut headers = HeaderMap::new();
    if raw_fields.is_none() {
        headers.reserve(spans.len());
        for (i, &[ns, ne, vs, ve]) in spans.iter().enumerate() {
            if drop_hop && hop & (1 << i) != 0 {
                continue;
            }
            let name = field_name(names, i, &raw[ns as usize..ne as usize])?;
            // (httparse has checked the value's bytes.)
            let value = HeaderValue::from_maybe_shared(raw.slice(vs as usize..ve as usize))
                .map_err(|_| H1Error::Malformed(format!("invalid value of {name}")))?;
            headers.append(name, value);
        }
    }
    Ok(Some(Parsed {
        status,
        version,
        headers,
        raw: raw_fields,
        noted,
    }))
}

/// The name of the `i`th field (the connection's last head's, when the
/// same).
fn field_name(names: &mut Names, i: usize, bytes: &[u8]) -> Result<http::HeaderName, H1Error> {
    names
        .get(i, bytes)
        .map_err(|_| H1Error::Malformed("invalid header name".into()))
}
