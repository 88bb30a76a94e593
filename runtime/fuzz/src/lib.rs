//! Helpers of the runtime's fuzz targets: a config provisioned without
//! listeners, and one request answered by a server of it on a
//! current-thread runtime, as `serve.rs` would answer it (the HTTP/1
//! framing checks first, then the server's routes).

use bellhop_runtime::config::Config;
use bellhop_runtime::http::conn::ConnInfo;
use bellhop_runtime::http::{framing, Cx, ReqBody};
use bellhop_runtime::instance::Instance;
use bellhop_runtime::Registry;
use bytes::Bytes;
use http_body_util::BodyExt;

/// Provisions `config` (no sockets); `None` when it does not load.
pub fn instance(config: &serde_json::Value) -> Option<Instance> {
    let config = Config::from_json(config.to_string().as_bytes()).ok()?;
    Instance::provision(&config, &Registry::standard(), None).ok()
}

/// A request read from fuzz input: the first line is `METHOD TARGET`,
/// the next lines up to an empty one are `name: value` headers, the rest
/// is the body. `None` when `http` refuses a part of it.
pub fn request(data: &[u8]) -> Option<(http::request::Parts, Bytes)> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|b| *b == b'\n');
    let first = lines.next()?;
    let mut parts = first.splitn(2, |b| *b == b' ');
    let method = http::Method::from_bytes(parts.next()?).ok()?;
    let target = http::Uri::try_from(parts.next().unwrap_or(b"/")).ok()?;
    let mut b = http::Request::builder()
        .method(method)
        .uri(target)
        .version(http::Version::HTTP_11);
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = http::HeaderName::from_bytes(&line[..colon]).ok()?;
        let value = http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
        b = b.header(name, value);
    }
    let (parts, ()) = b.body(()).ok()?.into_parts();
    Some((parts, Bytes::copy_from_slice(body)))
}

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

/// Answers the request with the instance's first server; the status, or
/// `None` when the server drops it unanswered. The body is read whole.
pub fn serve(instance: &Instance, parts: http::request::Parts, body: Bytes) -> Option<u16> {
    if let Some(status) = framing::refuse(&parts) {
        return Some(status.as_u16());
    }
    let server = instance.servers.first()?;
    let conn = ConnInfo {
        remote: Some(([192, 0, 2, 7], 40000).into()),
        local: Some(([127, 0, 0, 1], 8080).into()),
        tls: false,
        tls_sni: None,
        alpn_h2: false,
        tls_info: None,
        state: None,
        remote_value: Default::default(),
    };
    RT.with(|rt| {
        rt.block_on(async {
            let cx = Cx::new(parts, ReqBody::full(body), &conn, server);
            let response = server.serve(cx).await.ok()?;
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            Some(status)
        })
    })
}
