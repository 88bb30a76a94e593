//! Dynamic config loading, Caddy's `admin.config.load` with its standard
//! loader `caddy.config_loaders.http`: once a config that names a loader
//! is running, the loader fetches the next config over HTTP(S) and the
//! admin pipeline loads it as any `POST /load` (atomically; a config that
//! fails leaves the running one serving).
//!
//! As Caddy: with `load_delay`, the fetch happens that long after the
//! config started, and is tried again after the same delay while it
//! fails, yields nothing or yields the running config unchanged; without
//! it, the fetch happens while the config loads (a failure fails that
//! load) and its result is applied right after. A pulled config may name
//! a loader again only with a positive `load_delay`. A fetch tries up to
//! ten times, 500 ms apart, while the server cannot be reached or answers
//! 5xx; 4xx fails it. The answer is adapted by its `Content-Type` (or
//! `text/<adapter>`), JSON as it is.
//!
//! Beyond Caddy, `caddy.config_loaders.redis` (`loader/redis.rs`): the
//! config in a Redis key, followed through pub/sub by every instance.

mod http;
mod redis;

use crate::error::Error;
use http::Loader;
use serde_json::Value;
use std::sync::Arc;

/// A config loader, by module.
pub(crate) enum Source {
    Http(Arc<Loader>),
    Redis(Arc<redis::RedisLoader>),
}

impl Source {
    /// The loader `admin.config` names, if any.
    pub(crate) fn provision(
        c: &crate::config::AdminConfigPersist,
    ) -> Result<Option<Source>, Error> {
        let Some(load) = &c.load else {
            return Ok(None);
        };
        let at = "admin.config.load";
        match load.get("module").and_then(Value::as_str).unwrap_or("") {
            "http" => Ok(Some(Source::Http(Arc::new(Loader::provision(c, load)?)))),
            "redis" => {
                if c.load_delay.is_some_and(|d| !d.0.is_zero()) {
                    return Err(Error::config(
                        "admin.config.load_delay",
                        "the redis loader follows its key as it changes; a delay has no meaning there",
                    ));
                }
                Ok(Some(Source::Redis(Arc::new(
                    redis::RedisLoader::provision(load, at)?,
                ))))
            }
            module => Err(Error::UnknownModule {
                path: format!("{at}.module"),
                id: format!("caddy.config_loaders.{module}"),
            }),
        }
    }
}

/// The loader of the running config, while it runs.
pub(crate) struct Running {
    task: tokio::task::AbortHandle,
    /// A loader that follows a source (redis) and the JSON naming it: a
    /// config it loads naming the same loader keeps it running.
    follows: Option<(String, Arc<redis::RedisLoader>)>,
}

impl Running {
    pub(crate) fn abort(&self) {
        self.task.abort();
    }

    /// Whether it follows a source (redis) rather than pulling once.
    pub(crate) fn follows_source(&self) -> bool {
        self.follows.is_some()
    }

    /// What `GET /config-loader` shows.
    pub(crate) fn status(&self) -> Option<Value> {
        let (_, l) = self.follows.as_ref()?;
        Some(l.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// What a config that names a loader loads next.
pub(crate) struct Pending {
    source: Source,
    /// The `load` object, for [`Running::follows`].
    identity: String,
    /// Fetched while the config loaded (no `load_delay`).
    fetched: Option<Vec<u8>>,
    adapters: Vec<(String, Arc<dyn super::ConfigAdapter>)>,
}

impl Pending {
    /// Prepares the loading `admin` asks for; fetches at once without
    /// `load_delay` (a failure fails the config being loaded). `pulled`:
    /// the config itself was pulled by a loader.
    pub(crate) fn prepare(
        admin: Option<&crate::config::AdminConfig>,
        pulled: bool,
        adapters: &[(String, Arc<dyn super::ConfigAdapter>)],
    ) -> Result<Option<Pending>, super::ApiError> {
        let bad = |m: String| super::ApiError::bad_request(m);
        let Some(c) = admin.and_then(|a| a.config.as_ref()) else {
            return Ok(None);
        };
        let Some(source) = Source::provision(c).map_err(|e| bad(e.to_string()))? else {
            return Ok(None);
        };
        let identity = serde_json::to_string(&c.load).unwrap_or_default();
        let loader = match source {
            Source::Http(l) => l,
            redis => {
                return Ok(Some(Pending {
                    source: redis,
                    identity,
                    fetched: None,
                    adapters: adapters.to_vec(),
                }))
            }
        };
        if pulled && loader.delay.is_none() {
            return Err(bad(
                "recursive config loading detected: pulled configs cannot pull \
                 other configs without positive load_delay"
                    .into(),
            ));
        }
        let mut fetched = None;
        if loader.delay.is_none() {
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| bad("loading dynamic config: no async runtime".into()))?;
            let got = handle.block_on(Self::fetch_adapted(&loader, adapters));
            fetched = Some(got.map_err(|e| bad(format!("loading dynamic config from http: {e}")))?);
        }
        Ok(Some(Pending {
            source: Source::Http(loader),
            identity,
            fetched,
            adapters: adapters.to_vec(),
        }))
    }

    /// Fetches (over HTTP) and adapts to JSON.
    async fn fetch_adapted(
        loader: &Loader,
        adapters: &[(String, Arc<dyn super::ConfigAdapter>)],
    ) -> Result<Vec<u8>, String> {
        let (body, media) = loader.fetch().await?;
        adapt(&body, media.as_deref(), adapters)
    }

    /// Starts loading, unless `running` is already following the same
    /// source (then it goes on, and is returned).
    pub(crate) fn start(self, admin: Arc<super::Inner>, running: Option<Running>) -> Running {
        let loader = match self.source {
            Source::Redis(l) => {
                if let Some(r) = running {
                    if r.follows
                        .as_ref()
                        .is_some_and(|(id, _)| *id == self.identity)
                    {
                        return r;
                    }
                    r.abort();
                }
                let follow = redis::follow(l.clone(), admin, self.adapters);
                return Running {
                    task: tokio::spawn(follow).abort_handle(),
                    follows: Some((self.identity, l)),
                };
            }
            Source::Http(l) => l,
        };
        if let Some(r) = running {
            r.abort();
        }
        let (fetched, adapters) = (self.fetched, self.adapters);
        let task = tokio::spawn(async move {
            if let Some(json) = fetched {
                apply(&admin, json).await;
                return;
            }
            let delay = loader.delay.unwrap_or_default();
            loop {
                tokio::time::sleep(delay).await;
                let json = match Self::fetch_adapted(&loader, &adapters).await {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::error!(error = %e, "failed loading dynamic config; will retry");
                        continue;
                    }
                };
                if apply(&admin, json).await != Applied::Unchanged {
                    return;
                }
                tracing::info!("dynamically-loaded config was unchanged; will retry");
            }
        });
        Running {
            task: task.abort_handle(),
            follows: None,
        }
    }
}

/// Loads a pulled config through the admin pipeline: `Ok` when it runs
/// (changed or not), else the error.
async fn apply_reporting(admin: &Arc<super::Inner>, json: Vec<u8>) -> Result<(), String> {
    admin
        .clone()
        .change_async(super::change::Edit::Pulled(json), None, false)
        .await
        .map(|_| ())
        .map_err(|e| e.message.to_string())
}

#[derive(PartialEq, Eq)]
enum Applied {
    Yes,
    Unchanged,
    Failed,
}

/// Loads a pulled config through the admin pipeline.
async fn apply(admin: &Arc<super::Inner>, json: Vec<u8>) -> Applied {
    tracing::info!("applying dynamically-loaded config");
    match admin
        .clone()
        .change_async(super::change::Edit::Pulled(json), None, false)
        .await
    {
        Ok(true) => {
            tracing::info!("successfully applied dynamically-loaded config");
            Applied::Yes
        }
        Ok(false) => Applied::Unchanged,
        Err(e) => {
            tracing::error!(error = %e.message, "failed to run dynamically-loaded config");
            Applied::Failed
        }
    }
}

/// Caddy's `adaptByContentType`: JSON without a media type or with a
/// `…/json` one, else the adapter named by the subtype.
fn adapt(
    body: &[u8],
    media: Option<&str>,
    adapters: &[(String, Arc<dyn super::ConfigAdapter>)],
) -> Result<Vec<u8>, String> {
    let Some(media) = media.map(|m| {
        m.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }) else {
        return Ok(body.to_vec());
    };
    if media.is_empty() || media.ends_with("/json") {
        return Ok(body.to_vec());
    }
    let Some((_, name)) = media.split_once('/') else {
        return Err("malformed Content-Type".into());
    };
    let adapter = adapters
        .iter()
        .find(|(m, _)| m.split_once('/').is_some_and(|(_, n)| n == name))
        .map(|(_, a)| a)
        .ok_or_else(|| format!("unrecognized config adapter '{name}'"))?;
    let (json, warnings) = adapter
        .adapt_with_warnings(body)
        .map_err(|e| format!("adapting config using {name} adapter: {e}"))?;
    for w in warnings {
        tracing::warn!(warning = %w, "config adapter");
    }
    Ok(json)
}
