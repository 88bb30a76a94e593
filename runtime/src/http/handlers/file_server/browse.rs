//! Directory listings (`browse`), as Caddy's: an HTML page (bellhop's own
//! `browse/page.html`, or the user's `template_file`, run as a Go template
//! with Caddy's browse context), JSON with Caddy's field names for
//! `Accept: application/json`, or an aligned text table for `Accept:
//! text/plain`.
//!
//! The request picks the order (`?sort=name|namedirfirst|size|time`,
//! `?order=asc|desc`, remembered in `sort`/`order` cookies; the config's
//! `sort` is the default), `?offset=`/`?limit=`, and `?layout=list|grid`.
//! `file_limit` caps the entries read (default 10,000), `reveal_symlinks`
//! shows where symlinks point. `If-Modified-Since` against the newest time
//! of the directory and its entries answers 304.

mod listing;
mod page;

pub use page::DEFAULT_TEMPLATE;

use crate::error::{Error, HttpError};
use crate::http::{Body, Cx, Flow, Response};
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use listing::{human_size, Listing, ReadOptions};
use serde::Deserialize;

/// Caddy's `defaultDirEntryLimit`.
const DEFAULT_FILE_LIMIT: usize = 10_000;

/// The `browse` object of `file_server`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    template_file: Option<String>,
    #[serde(default)]
    reveal_symlinks: bool,
    #[serde(default)]
    sort: Vec<String>,
    #[serde(default)]
    file_limit: i64,
}

/// `browse`, provisioned.
pub struct Browse {
    template_file: Option<String>,
    reveal_symlinks: bool,
    /// The configured default order: (sort, order), either may be empty.
    sort: (String, String),
    file_limit: usize,
}

impl Browse {
    pub fn new(c: Config, path: &str) -> Result<Browse, Error> {
        let mut sort = (String::new(), String::new());
        for (i, opt) in c.sort.iter().enumerate() {
            match (i, opt.as_str()) {
                (0, "name" | "namedirfirst" | "size" | "time") => sort.0 = opt.clone(),
                (0, _) => return Err(Error::config(
                    format!("{path}.sort[0]"),
                    format!("the first option must be one of the following: name, namedirfirst, size, time, but got {opt}"),
                )),
                (1, "asc" | "desc") => sort.1 = opt.clone(),
                (1, _) => return Err(Error::config(
                    format!("{path}.sort[1]"),
                    format!("the second option must be one of the following: asc, desc, but got {opt}"),
                )),
                _ => return Err(Error::config(
                    format!("{path}.sort"),
                    format!("only max 2 sort options are allowed, but got {}", i + 1),
                )),
            }
        }
        Ok(Browse {
            template_file: c.template_file.filter(|t| !t.is_empty()),
            reveal_symlinks: c.reveal_symlinks,
            sort,
            file_limit: match c.file_limit {
                0 => DEFAULT_FILE_LIMIT,
                n if n < 0 => usize::MAX,
                n => n as usize,
            },
        })
    }

    /// Lists directory `dir` under the file server's `root`.
    pub async fn serve(
        &self,
        cx: &Cx<'_>,
        root: &str,
        dir: &str,
        hidden: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Flow, HttpError> {
        let opts = ReadOptions {
            limit: self.file_limit,
            reveal_symlinks: self.reveal_symlinks,
            hidden,
        };
        let mut listing = Listing::read(dir, cx.parts.uri.path(), &opts)
            .await
            .map_err(|e| {
                let status = match e.kind() {
                    std::io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                    std::io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                HttpError::new(status, format!("listing {dir}: {e}"))
            })?;
        let mut headers = HeaderMap::new();
        headers.append(
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Encoding"),
        );
        if not_modified(cx, listing.last_modified) {
            let mut r = Response::new(Body::from_bytes(bytes::Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            *r.headers_mut() = headers;
            return Ok(Flow::Respond(r));
        }
        self.apply_query(cx, &mut headers, &mut listing);
        if let Some(t) = listing.last_modified {
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(t)) {
                headers.insert(header::LAST_MODIFIED, v);
            }
        }
        let accept = cx
            .parts
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
            .to_ascii_lowercase();
        let (body, ctype) = if accept.contains("application/json") {
            (json(&listing), "application/json; charset=utf-8")
        } else if accept.contains("text/plain") {
            (text(&listing), "text/plain; charset=utf-8")
        } else {
            let html = self.html(cx, root, &mut headers, listing).await?;
            (html, "text/html; charset=utf-8")
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        let mut r = Response::new(Body::from_bytes(body));
        *r.headers_mut() = headers;
        Ok(Flow::Respond(r))
    }

    /// The order, layout and page the request asks for (query, then
    /// cookies, then the config), as Caddy's `browseApplyQueryParams`.
    fn apply_query(&self, cx: &Cx<'_>, headers: &mut HeaderMap, listing: &mut Listing) {
        let q = |name: &str| {
            crate::http::replacer::query_pairs(cx.parts.uri.query().unwrap_or(""))
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        listing.layout = match q("layout").as_str() {
            l @ ("list" | "grid" | "") => l.to_string(),
            _ => "list".to_string(),
        };
        let mut sort = q("sort");
        if sort.is_empty() {
            sort = self.sort.0.clone();
        }
        let mut order = q("order");
        if order.is_empty() {
            order = self.sort.1.clone();
        }
        let tls = cx.conn.tls;
        match sort.as_str() {
            "" => sort = cookie(cx, "sort").unwrap_or_else(|| "namedirfirst".into()),
            "name" | "namedirfirst" | "size" | "time" => set_cookie(headers, "sort", &sort, tls),
            _ => {}
        }
        match order.as_str() {
            "" => order = cookie(cx, "order").unwrap_or_else(|| "asc".into()),
            "asc" | "desc" => set_cookie(headers, "order", &order, tls),
            _ => {}
        }
        listing.sort_and_limit(&sort, &order, &q("limit"), &q("offset"));
    }

    async fn html(
        &self,
        cx: &Cx<'_>,
        root: &str,
        headers: &mut HeaderMap,
        listing: Listing,
    ) -> Result<String, HttpError> {
        use crate::http::handlers::templates::{render_page, PageSource};
        let text;
        let (name, src) = match &self.template_file {
            Some(f) => {
                text = tokio::fs::read_to_string(f).await.map_err(|e| {
                    HttpError::internal(format!("parsing browse template file: open {f}: {e}"))
                })?;
                (f.rsplit('/').next().unwrap_or(f), PageSource::File(&text))
            }
            None => ("default_listing", PageSource::BuiltIn(DEFAULT_TEMPLATE)),
        };
        render_page(cx, root, headers, name, src, |base| {
            page::Root::value(listing, base)
        })
        .map_err(|e| HttpError::internal(format!("browse template: {e}")))
    }
}

/// Whether `If-Modified-Since` is at or after the listing's time.
fn not_modified(cx: &Cx<'_>, last: Option<std::time::SystemTime>) -> bool {
    let (Some(last), Some(since)) = (
        last,
        cx.parts
            .headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok()),
    ) else {
        return false;
    };
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    secs(last) <= secs(since)
}

fn cookie(cx: &Cx<'_>, name: &str) -> Option<String> {
    crate::http::context::cookie(&cx.parts.headers, name).map(str::to_string)
}

/// Go's `http.SetCookie` of Caddy's sort cookies.
fn set_cookie(headers: &mut HeaderMap, name: &str, value: &str, tls: bool) {
    let secure = if tls { "; Secure" } else { "" };
    let c = format!("{name}={value}; HttpOnly{secure}; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&c) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// The entries as Go's JSON encoder writes Caddy's `[]fileInfo`.
fn json(l: &Listing) -> String {
    let list: Vec<serde_json::Value> = l
        .items
        .iter()
        .map(|e| {
            let mut v = serde_json::json!({"name": e.name, "size": e.size, "url": e.url,
                "mod_time": rfc3339_nano(e.mod_time), "mode": e.mode, "is_dir": e.is_dir,
                "is_symlink": e.is_symlink});
            if !e.symlink_path.is_empty() {
                v["symlink_path"] = e.symlink_path.clone().into();
            }
            v
        })
        .collect();
    // Go's encoder escapes <, > and & and ends with a newline.
    let text = serde_json::Value::Array(list)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    text + "\n"
}

/// Caddy's text listing: Go's `tabwriter` (tab padding, tab width 8,
/// padding 1) over name, human size and modification time.
fn text(l: &Listing) -> String {
    let mut rows = vec![
        ["Name".to_string(), "Size".into(), "Modified".into()],
        ["----".to_string(), "----".into(), "--------".into()],
    ];
    for e in &l.items {
        let t = crate::http::handlers::templates::go_time_format(
            e.mod_time,
            "January 2, 2006 at 15:04:05",
        );
        rows.push([e.name.clone(), human_size(e.size), t]);
    }
    let width = |col: usize| {
        let w = rows
            .iter()
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
            + 1;
        w.div_ceil(8) * 8
    };
    let widths = [width(0), width(1)];
    let mut out = String::new();
    for r in &rows {
        for (col, w) in widths.iter().enumerate() {
            out.push_str(&r[col]);
            let pad = w - r[col].chars().count();
            out.push_str(&"\t".repeat(pad.div_ceil(8)));
        }
        out.push_str(&r[2]);
        out.push('\n');
    }
    out
}

/// Go's `time.Time` JSON form in UTC (RFC 3339, trailing zeros of the
/// fraction dropped).
fn rfc3339_nano(t: std::time::SystemTime) -> String {
    let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) else {
        return "0001-01-01T00:00:00Z".into();
    };
    let c = crate::http::replacer::clock::civil(d.as_secs() as i64);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if d.subsec_nanos() > 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}
