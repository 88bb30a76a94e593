//! `redir` (a `static_response` handler that redirects):
//!
//! ```text
//! redir [<matcher>] <to> [<code>]
//! ```
//!
//! `<code>` is `temporary` (302, the default), `permanent` (301), `html`
//! (status 200 with an HTML page that redirects browsers by script and
//! meta refresh, no `Location` header), a placeholder, or a number in the
//! 3xx range or 401. Arguments after the code are ignored, as in Caddy.

use super::respond::weak_string;
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let Some(to) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    let code = h.next_arg_value().unwrap_or_default();
    let (code, body) = match code.as_str() {
        "permanent" => ("301".to_string(), None),
        "temporary" | "" => ("302".to_string(), None),
        "html" => ("200".to_string(), Some(html_page(&to))),
        other => {
            check_code(h, other)?;
            (other.to_string(), None)
        }
    };
    let header = match body {
        // browsers follow the page; other clients are not redirected
        Some(_) => ("Content-Type", "text/html; charset=utf-8"),
        None => ("Location", to.as_str()),
    };
    let headers = Obj::new().set(header.0, strings(&[header.1]));
    Ok(Obj::handler("static_response")
        .opt("status_code", weak_string(&code))
        .set("headers", headers)
        .opt("body", body.unwrap_or_default())
        .build())
}

/// A code must be a placeholder or an integer in 300–399 or 401.
fn check_code(h: &Helper, code: &str) -> Result<()> {
    if code.starts_with('{') {
        return Ok(());
    }
    let Some(n) = go_atoi(code) else {
        return Err(h.error(format!(
            "Not a supported redir code type or not valid integer: '{code}'"
        )));
    };
    if n < 300 || (n > 399 && n != 401) {
        return Err(h.error(format!("Redir code not in the 3xx range or 401: '{n}'")));
    }
    Ok(())
}

/// Go's `strconv.Atoi`: optional sign, then decimal digits only.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The page served for `html` redirects: a script redirect first (it keeps
/// the browser history right), a meta refresh as the fallback.
fn html_page(to: &str) -> String {
    let safe = html_escape(to);
    format!(
        "<!DOCTYPE html>\n<html>\n\t<head>\n\t\t<title>Redirecting...</title>\n\t\t\
         <script>window.location.replace(\"{safe}\");</script>\n\t\t\
         <meta http-equiv=\"refresh\" content=\"0; URL='{safe}'\">\n\t</head>\n\t\
         <body>Redirecting to <a href=\"{safe}\">{safe}</a>...</body>\n</html>\n"
    )
}

/// Go's `html.EscapeString`: `<`, `>`, `&`, `'` and `"`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            html_escape(r#"/a?b=1&c='<"x">'"#),
            "/a?b=1&amp;c=&#39;&lt;&#34;x&#34;&gt;&#39;"
        );
    }

    #[test]
    fn atoi_is_strict() {
        assert_eq!(go_atoi("+301"), Some(301));
        assert_eq!(go_atoi("3O1"), None);
        assert_eq!(go_atoi(" 301"), None);
        assert_eq!(go_atoi(""), None);
    }

    #[test]
    fn html_page_has_four_targets() {
        assert_eq!(html_page("/x").matches("/x").count(), 4);
        assert!(html_page("/x").ends_with("</html>\n"));
    }
}
