//! The `events` app (Caddy's `caddyevents.App`): subscriptions of event
//! handlers to events by name and by emitting module. Caddy's standard
//! build has no `events.handlers.*` module, so a subscription with a
//! handler names a module bellhop lacks as Caddy lacks it, and one
//! without handlers does nothing in either: the app is checked, and
//! nothing more is needed to serve it.

use crate::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsApp {
    #[serde(default)]
    subscriptions: Vec<Subscription>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subscription {
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    handlers: Vec<Map<String, Value>>,
}

/// Checks `apps.events`.
pub(crate) fn check(app: &Value) -> Result<(), Error> {
    let a: EventsApp = super::decode(app, "apps.events")?;
    for (i, s) in a.subscriptions.iter().enumerate() {
        let _filters = (&s.events, &s.modules);
        if let Some((j, h)) = s.handlers.iter().enumerate().next() {
            let name = h.get("handler").and_then(Value::as_str).unwrap_or("");
            return Err(Error::UnknownModule {
                path: format!("apps.events.subscriptions[{i}].handlers[{j}].handler"),
                id: format!("events.handlers.{name}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn validate(events: serde_json::Value) -> Result<(), String> {
        let cfg = json!({"apps": {"events": events}});
        crate::validate(cfg.to_string().as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn subscriptions_load_and_handlers_name_the_missing_module() {
        validate(json!({})).unwrap();
        validate(json!({"subscriptions": [{"events": ["cert_obtained"], "modules": ["tls"]}]}))
            .unwrap();
        let e = validate(
            json!({"subscriptions": [{"events": ["x"], "handlers": [{"handler": "exec"}]}]}),
        )
        .unwrap_err();
        assert!(
            e.contains("apps.events.subscriptions[0].handlers[0].handler")
                && e.contains("events.handlers.exec"),
            "{e}"
        );
        let e = validate(json!({"subscription": []})).unwrap_err();
        assert!(
            e.contains("apps.events") && e.contains("subscription"),
            "{e}"
        );
    }
}
