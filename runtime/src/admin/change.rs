//! The change pipeline, Caddy's `changeConfig`: under one lock, edit a
//! copy of the raw config, skip it when identical (unless forced), index
//! its `@id`s, decode and provision it whole (admin listener included),
//! swap it in, then autosave (written on a thread of its own: see
//! `persist.rs`). On any failure the snapshot, the running
//! config and every socket stay as they were.

use super::server;
use super::{lock, traverse, ApiError, Inner};
use crate::config::Config;
use crate::listeners::address;
use http::{Method, StatusCode};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The raw config now running, as the API shows it. Immutable; replaced
/// whole on each change.
#[derive(Default)]
pub struct RawConfig {
    /// The config document encoded (empty when none), compared to decide
    /// whether a change is a no-op.
    pub json: Vec<u8>,
    /// `@id` → `/config/…` path.
    pub index: HashMap<String, String>,
    /// The document, decoded from `json` when the API first needs it
    /// (`GET /config`, edits, `If-Match`): a running config does not keep
    /// a second tree besides its typed one.
    root: OnceLock<Value>,
}

impl RawConfig {
    /// The config document (`Null` when none).
    pub fn root(&self) -> &Value {
        self.root
            .get_or_init(|| serde_json::from_slice(&self.json).unwrap_or(Value::Null))
    }
}

/// What a change does.
pub enum Edit {
    /// Replace the whole config (`POST /load`) with this JSON body, decoded
    /// on the reload thread.
    Replace(Vec<u8>),
    /// Replace it with a config a loader pulled (`admin.config.load`).
    Pulled(Vec<u8>),
    /// Edit at a `/config/…` path (`body` is `None` for DELETE).
    Access {
        method: Method,
        path: String,
        body: Option<Value>,
    },
}

/// A `POST /load` body: its canonical encoding, and the parsed document
/// when that had to be built (an object repeating a key, or bad JSON for
/// the error).
fn replacement(body: &[u8]) -> Result<(Option<Value>, Vec<u8>), ApiError> {
    if let Some(json) = super::canonical::encode(body) {
        return Ok((None, json));
    }
    let root = parse_body(body)?;
    let json = encode(&root)?;
    Ok((Some(root), json))
}

/// The compact encoding of a document.
fn encode(root: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(root).map_err(|e| ApiError::bad_request(format!("encoding new config: {e}")))
}

/// Decodes a request body as JSON (an empty body is `null`).
pub fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("decoding request body: {e}")))
}

impl Inner {
    /// Runs [`Inner::change`] off the async workers, on a low-priority
    /// thread (decoding and provisioning are CPU work that must not slow
    /// the requests being served; binding sockets may block).
    pub async fn change_async(
        self: Arc<Self>,
        edit: Edit,
        if_match: Option<String>,
        force: bool,
    ) -> Result<bool, ApiError> {
        crate::util::background::run(move || self.change(edit, if_match.as_deref(), force))
            .await
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the config change failed unexpectedly",
                )
            })?
    }

    /// Applies `edit`; `Ok(false)` when the result is identical to the
    /// running config and not forced.
    pub fn change(
        self: &Arc<Self>,
        edit: Edit,
        if_match: Option<&str>,
        force: bool,
    ) -> Result<bool, ApiError> {
        let _serial = lock(&self.changing);
        let current = self.raw.load_full();
        if let Some(tag) = if_match {
            check_if_match(current.root(), tag)?;
        }
        let pulled = matches!(edit, Edit::Pulled(_));
        let (root, json) = match edit {
            Edit::Replace(body) | Edit::Pulled(body) => replacement(&body)?,
            Edit::Access { method, path, body } => {
                let mut doc = Map::new();
                doc.insert("config".into(), current.root().clone());
                let mut doc = Value::Object(doc);
                traverse::write(&mut doc, &method, &path, body)?;
                let root = doc
                    .as_object_mut()
                    .and_then(|m| m.shift_remove("config"))
                    .unwrap_or(Value::Null);
                let json = encode(&root)?;
                (Some(root), json)
            }
        };
        if !force && json == current.json {
            tracing::info!("config is unchanged");
            return Ok(false);
        }
        let ids = crate::config::mentions_ids(&json);
        let mut index = HashMap::new();
        let root = match root {
            None if ids => Some(parse_body(&json)?),
            root => root,
        };
        if let (true, Some(root)) = (ids, &root) {
            traverse::index_ids(root, &mut "/config".to_string(), &mut index)?;
        }
        let started = Instant::now();
        let tell = |e| {
            if let Some(f) = &self.opts.on_change {
                f(e)
            }
        };
        tell(super::ChangeEvent::Applying);
        let applied = self.apply(&json, root.as_ref(), ids, pulled);
        // Freed only now: see `Config::from_document`.
        drop(root);
        tell(super::ChangeEvent::Applied {
            ok: applied.is_ok(),
        });
        let persist = match applied {
            Ok(p) => p,
            Err(e) => {
                self.metrics.reload_failed();
                tracing::error!(error = %e.message, "config change failed; the running config is unchanged");
                return Err(e);
            }
        };
        self.metrics.reload_succeeded(started.elapsed());
        if let (true, Some(path)) = (persist, &self.opts.autosave) {
            self.saver.save(path, &json);
        }
        let raw = RawConfig {
            json,
            index,
            root: OnceLock::new(),
        };
        let replaced = self.raw.swap(Arc::new(raw));
        crate::app::drop_later((current, replaced));
        Ok(true)
    }

    /// Decodes and runs the document `json` (parsed as `root` when it was;
    /// `ids`: it may carry `@id` tags, and is parsed), replacing the admin
    /// server when its address changes. Returns whether the config may be
    /// autosaved.
    fn apply(
        self: &Arc<Self>,
        json: &[u8],
        root: Option<&Value>,
        ids: bool,
        pulled: bool,
    ) -> Result<bool, ApiError> {
        let t0 = Instant::now();
        let config = Config::from_document(root, ids, json)
            .map_err(|e| ApiError::bad_request(format!("loading config: {e}")))?;
        let admin = config.admin.as_ref();
        let next = super::loader::Pending::prepare(admin, pulled, &self.opts.adapters)?;
        let disabled = admin.is_some_and(|a| a.disabled);
        let listen = admin
            .and_then(|a| a.listen.clone())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| self.opts.default_listen.clone());
        let persist = admin
            .and_then(|a| a.config.as_ref())
            .and_then(|c| c.persist)
            .unwrap_or(true);
        let mut slot = lock(&self.server);
        let keep = !disabled && slot.as_ref().is_some_and(|s| s.listen == listen);
        let fresh = match (disabled, keep) {
            (false, false) => Some(bind_admin(&listen, self.runtime.listener_pool())?),
            _ => None,
        };
        let remote = super::remote::provision(admin, &self.runtime)
            .map_err(|e| ApiError::bad_request(format!("loading config: {e}")))?;
        if remote.is_some() && self.opts.loader.is_some() {
            // The identity certificate lives in the config's TLS state,
            // which the workers hold, not this process.
            return Err(ApiError::bad_request(
                "loading config: admin.remote: the remote admin endpoint is not available with --workers",
            ));
        }
        let mut remote_slot = lock(&self.remote);
        let keep_remote =
            matches!((&remote, remote_slot.as_ref()), (Some(r), Some(s)) if s.listen == r.listen);
        let fresh_remote = match &remote {
            Some(r) if !keep_remote => Some(bind_admin(&r.listen, &Default::default())?),
            _ => None,
        };
        // Everything the new config needs is bound; a failure from here on
        // drops `fresh` (closing it) and leaves the old config running.
        let t1 = Instant::now();
        match &self.opts.loader {
            Some(loader) => loader.load(json, &config).map_err(ApiError::bad_request)?,
            None => self
                .runtime
                .load_config(&config)
                .map_err(|e| ApiError::bad_request(format!("loading config: {e}")))?,
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        tracing::info!(
            decode_ms = ms(t1 - t0),
            provision_ms = ms(t1.elapsed()),
            "config loaded"
        );
        if keep {
            if let Some(s) = slot.as_ref() {
                s.set_checks(admin);
            }
        } else {
            // Dropping the old server stops its listener; its requests
            // (this one, perhaps) finish first.
            *slot = fresh.map(|b| b.start(self.clone(), admin));
        }
        match (remote, fresh_remote) {
            (Some(r), Some(bound)) => *remote_slot = Some(bound.start_remote(self.clone(), r)),
            (Some(r), None) => {
                if let Some(s) = remote_slot.as_ref() {
                    s.set(r);
                }
            }
            // No remote endpoint now: the old one (if any) stops.
            (None, _) => *remote_slot = None,
        }
        // The config running now decides what is loaded next.
        let mut loading = lock(&self.loading);
        let running = loading.take();
        *loading = match (next, running) {
            (Some(n), running) => Some(n.start(self.clone(), running)),
            // A loader that follows a source owns the configs it pulls:
            // one naming no loader (a Caddyfile cannot) keeps it going.
            (None, Some(r)) if pulled && r.follows_source() => Some(r),
            (None, running) => {
                if let Some(old) = running {
                    old.abort();
                }
                None
            }
        };
        Ok(persist)
    }
}

/// Binds the admin listener for `listen` (exactly one address).
fn bind_admin(listen: &str, adopted: &crate::listeners::Pool) -> Result<server::Bound, ApiError> {
    let bad = |m: String| ApiError::bad_request(format!("admin endpoint {listen}: {m}"));
    let mut addrs = address::parse(listen).map_err(|e| bad(e.to_string()))?;
    if addrs.len() != 1 {
        return Err(bad("must be exactly one listener address".into()));
    }
    let addr = addrs.remove(0);
    server::bind(listen, addr, adopted).map_err(|e| bad(e.to_string()))
}

/// Checks `If-Match: "<path> <hash>"` against the running config (412).
fn check_if_match(root: &Value, tag: &str) -> Result<(), ApiError> {
    let inner = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(|| ApiError::bad_request("malformed If-Match header; expect quoted string"))?;
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [path, _] = parts[..] else {
        return Err(ApiError::bad_request(
            "malformed If-Match header; expect format \"<path> <hash>\"",
        ));
    };
    let body = traverse::read_encoded(root, path)?;
    if traverse::etag(path, &body) != tag {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "If-Match header did not match current config hash",
        ));
    }
    Ok(())
}
