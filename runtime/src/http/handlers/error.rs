//! `http.handlers.error`: fails the request with a status and message, so
//! the error routes take over. Caddyfile: `error [<matcher>] <msg> <status>`.

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    error: String,
    status_code: Option<Value>,
}

struct ErrorHandler {
    message: Template,
    status: Option<Template>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let status = match c.status_code {
        None => None,
        Some(Value::Number(n)) => Some(Template::parse(&n.to_string())),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Template::parse(&s)),
        Some(_) => {
            return Err(Error::config(
                format!("{path}.status_code"),
                "must be a number or string",
            ))
        }
    };
    Ok(Box::new(ErrorHandler {
        message: Template::parse(&c.error),
        status,
    }))
}

impl Handler for ErrorHandler {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let status = match &self.status {
            None => StatusCode::INTERNAL_SERVER_ERROR,
            Some(t) => {
                let s = t.render(cx);
                match s
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .and_then(|n| StatusCode::from_u16(n).ok())
                {
                    Some(code) => code,
                    None => {
                        return Step::Fail(HttpError::internal(format!(
                            "invalid error status {s:?}"
                        )))
                    }
                }
            }
        };
        // Unknown placeholders stay as written, as Caddy's ReplaceKnown.
        let message = self.message.render_known(cx).into_owned();
        Step::Fail(HttpError::new(status, message).with_trace("error handler"))
    }
}
