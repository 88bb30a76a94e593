//! Routes with Caddy's semantics, and the interpreter that runs them.
//!
//! A route matches when any of its matcher sets matches (OR), and a set
//! matches when all of its matchers match (AND); no sets means always.
//! Matchers are evaluated when the route is reached, so earlier handlers
//! (rewrite, vars) affect them. Of the matching routes that share a `group`,
//! only the first runs. A `terminal` route ends the whole chain after its
//! handlers, subroutes included. When the chain runs out without a response,
//! the caller decides: an empty 200 for the primary routes, the error's
//! status for error routes.
//!
//! The interpreter keeps an explicit stack of frames: subroutes and named
//! routes push one, so nesting costs no recursion and no boxed futures; only
//! handlers that do I/O return a future.

mod host_index;

use super::{Cx, Handler, Matcher, Response, Step};
use crate::config::RouteConfig;
use crate::error::{Error, HttpError};
use crate::registry::Provision;
use futures_util::future::Either;
use std::future::Future;

/// How deep named routes may invoke each other (Caddy has no bound and
/// overflows its stack); deeper answers 500.
pub const MAX_INVOKE_DEPTH: u16 = 64;

/// Matchers of a route: OR of ANDs.
#[derive(Default)]
pub struct MatcherSets(Vec<Vec<Box<dyn Matcher>>>);

impl MatcherSets {
    /// Provisions the `match` array at `path`.
    pub fn provision(
        sets: &[serde_json::Map<String, serde_json::Value>],
        p: &mut Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        let mut out = Vec::with_capacity(sets.len());
        for (i, set) in sets.iter().enumerate() {
            let set_path = format!("{path}[{i}]");
            let mut matchers = Vec::with_capacity(set.len());
            for (name, value) in set {
                let m = p.matcher(name, value, &format!("{set_path}.{name}"))?;
                matchers.push(m);
            }
            out.push(matchers);
        }
        Ok(MatcherSets(out))
    }

    /// Whether the request matches.
    pub fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        if self.0.is_empty() {
            return Ok(true);
        }
        'sets: for set in &self.0 {
            for m in set {
                if !m.matches(cx)? {
                    continue 'sets;
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether there are no matcher sets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One provisioned route.
pub struct Route {
    group: Option<Box<str>>,
    matchers: MatcherSets,
    handlers: Vec<Box<dyn Handler>>,
    terminal: bool,
    /// Per handler: its config mentions `{http.request.body…}`, so the
    /// body is read whole just before it runs (after any `request_body`
    /// before it has set its limit), and the placeholder can see it.
    body_readers: Box<[bool]>,
}

/// A provisioned list of routes.
#[derive(Default)]
pub struct RouteList(Vec<Route>, host_index::HostIndex);

impl RouteList {
    /// Provisions the routes at `path` (e.g. `apps.http.servers.a.routes`).
    pub fn provision(
        configs: &[RouteConfig],
        p: &mut Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        let mut routes = Vec::with_capacity(configs.len());
        for (i, rc) in configs.iter().enumerate() {
            routes.push(Route::provision(rc, p, &format!("{path}[{i}]"))?);
        }
        let index = host_index::HostIndex::build(&routes);
        Ok(RouteList(routes, index))
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every handler, recursively through subroutes, for cleanup.
    pub fn for_each_handler(&self, f: &mut dyn FnMut(&dyn Handler)) {
        for r in &self.0 {
            for h in &r.handlers {
                f(h.as_ref());
                if let Some(sub) = h.routes() {
                    sub.for_each_handler(f);
                }
            }
        }
    }
}

impl Route {
    fn provision(rc: &RouteConfig, p: &mut Provision<'_>, path: &str) -> Result<Self, Error> {
        let matchers = MatcherSets::provision(&rc.matchers, p, &format!("{path}.match"))?;
        let mut handlers = Vec::with_capacity(rc.handle.len());
        for (i, h) in rc.handle.iter().enumerate() {
            handlers.push(p.handler(h, &format!("{path}.handle[{i}]"))?);
        }
        Ok(Route {
            group: rc
                .group
                .as_deref()
                .filter(|g| !g.is_empty())
                .map(Into::into),
            matchers,
            handlers,
            terminal: rc.terminal,
            body_readers: rc
                .handle
                .iter()
                .map(|h| h.body.get().contains("{http.request.body"))
                .collect(),
        })
    }
}

struct Frame<'a> {
    routes: &'a [Route],
    hosts: &'a host_index::HostIndex,
    route: usize,
    handler: usize,
    in_route: bool,
    /// Error routes of the subroute that pushed this frame.
    errors: Option<&'a RouteList>,
    /// How many named-route invocations enclose this frame.
    invokes: u16,
}

impl<'a> Frame<'a> {
    fn new(list: &'a RouteList, errors: Option<&'a RouteList>, invokes: u16) -> Self {
        Frame {
            routes: &list.0,
            hosts: &list.1,
            route: 0,
            handler: 0,
            in_route: false,
            errors,
            invokes,
        }
    }
}

/// Runs `list` for the request. `Ok(None)`: no handler answered (the
/// caller answers 200, or the status of `cx.error` when one is set).
///
/// An error inside a subroute that has error routes is handled there, as
/// Caddy's subroute does: `cx.error` is set and its error routes run.
pub async fn run<'a>(list: &'a RouteList, cx: &mut Cx<'a>) -> Result<Option<Response>, HttpError> {
    let mut frame = Frame::new(list, None, 0);
    let mut parents: Vec<Frame<'a>> = Vec::new();
    loop {
        match step(&mut frame, &mut parents, cx).await {
            Ok(Some(done)) => return Ok(done),
            Ok(None) => {}
            Err(e) => {
                let Some(errors) = unwind(&mut frame, &mut parents) else {
                    return Err(e);
                };
                cx.error = Some(Box::new(e));
                parents.clear();
                frame = Frame::new(errors, None, 0);
            }
        }
    }
}

/// Finds the innermost frame with error routes, dropping frames above it.
fn unwind<'a>(frame: &mut Frame<'a>, parents: &mut Vec<Frame<'a>>) -> Option<&'a RouteList> {
    if let Some(e) = frame.errors {
        return Some(e);
    }
    while let Some(f) = parents.pop() {
        if f.errors.is_some() {
            return f.errors;
        }
    }
    None
}

/// Advances the interpreter by one route or handler. `Some(outcome)` ends
/// the run.
async fn step<'a>(
    frame_slot: &mut Frame<'a>,
    parents: &mut Vec<Frame<'a>>,
    cx: &mut Cx<'a>,
) -> Result<Option<Option<Response>>, HttpError> {
    let frame = frame_slot;
    {
        if !frame.in_route {
            if let Some(next) = frame.hosts.next_candidate(frame.route, || cx.host()) {
                frame.route = next;
            }
            let Some(route) = frame.routes.get(frame.route) else {
                return Ok(match parents.pop() {
                    Some(parent) => {
                        *frame = parent;
                        None
                    }
                    None => Some(None),
                });
            };
            if !enter(route, cx)? {
                frame.route += 1;
                return Ok(None);
            }
            frame.in_route = true;
            frame.handler = 0;
        }
        let route = &frame.routes[frame.route];
        let Some(handler) = route.handlers.get(frame.handler) else {
            if route.terminal {
                return Ok(Some(None));
            }
            frame.in_route = false;
            frame.route += 1;
            return Ok(None);
        };
        if route.body_readers[frame.handler] {
            cx.body.read_whole().await?;
        }
        frame.handler += 1;
        if let Some(series) = handler.series(cx) {
            cx.metered.enter(series);
        }
        match handler.handle(cx) {
            Step::Next => Ok(None),
            Step::Respond(r) => Ok(Some(Some(r))),
            Step::Fail(e) => Err(e),
            Step::Wrap => {
                cx.hooks.push(handler.as_ref());
                Ok(None)
            }
            Step::Routes => {
                if let Some(sub) = handler.routes() {
                    let next = Frame::new(sub, handler.error_routes(), frame.invokes);
                    parents.push(std::mem::replace(frame, next));
                }
                Ok(None)
            }
            Step::Invoke(index) => {
                let server = cx.server;
                let Some(named) = server.named_route(index) else {
                    return Err(HttpError::internal("invoked named route does not exist"));
                };
                if frame.invokes >= MAX_INVOKE_DEPTH {
                    return Err(HttpError::internal(format!(
                        "named routes invoke each other more than {MAX_INVOKE_DEPTH} levels deep"
                    )));
                }
                let next = Frame::new(named, None, frame.invokes + 1);
                parents.push(std::mem::replace(frame, next));
                Ok(None)
            }
            Step::Async => match handler.handle_async(cx).await? {
                super::Flow::Next => Ok(None),
                super::Flow::Respond(r) => Ok(Some(Some(r))),
                super::Flow::Routes(i) => {
                    if let Some(sub) = handler.indexed_routes(i) {
                        parents.push(std::mem::replace(
                            frame,
                            Frame::new(sub, None, frame.invokes),
                        ));
                    }
                    Ok(None)
                }
            },
        }
    }
}

/// Matches a route and claims its group; false when it does not apply.
fn enter<'a>(route: &'a Route, cx: &mut Cx<'a>) -> Result<bool, HttpError> {
    if !route.matchers.matches(cx)? {
        return Ok(false);
    }
    if let Some(g) = &route.group {
        if cx.groups.contains(&&**g) {
            return Ok(false);
        }
        cx.groups.push(g);
    }
    Ok(true)
}

/// Passes a response through the hooks registered by wrapping handlers,
/// innermost first.
pub fn apply_hooks(cx: &mut Cx<'_>, response: &mut Response) {
    if cx.hooks.is_empty() {
        return;
    }
    let hooks = std::mem::take(&mut cx.hooks);
    let mut r = std::mem::replace(response, Response::new(super::body::Body::Empty));
    for h in hooks.iter().rev() {
        r = h.on_response(cx, r);
    }
    *response = r;
}

/// Whether a wrapping handler's hook is asynchronous (templates): then
/// [`apply_async_hooks`] has work to do.
pub fn has_async_hooks(cx: &Cx<'_>) -> bool {
    cx.hooks.iter().any(|h| h.wraps_async())
}

/// Applies the hooks from the innermost up to the outermost asynchronous
/// one (templates), which may fail; the hooks outside it stay for
/// [`apply_hooks`]. Without asynchronous hooks, nothing happens.
///
/// Most requests have no such handler: then the answer is ready at once,
/// and the future kept by every caller is small (the hooks' own is boxed).
pub fn apply_async_hooks<'c, 'a>(
    cx: &'c mut Cx<'a>,
    response: Response,
) -> impl Future<Output = Result<Response, HttpError>> + Send + use<'c, 'a> {
    match cx.hooks.iter().position(|h| h.wraps_async()) {
        None => Either::Left(std::future::ready(Ok(response))),
        Some(outermost) => Either::Right(Box::pin(run_async_hooks(cx, response, outermost))),
    }
}

async fn run_async_hooks<'a>(
    cx: &mut Cx<'a>,
    mut response: Response,
    outermost: usize,
) -> Result<Response, HttpError> {
    let inner = cx.hooks.split_off(outermost);
    for h in inner.iter().rev() {
        response = if h.wraps_async() {
            h.on_response_async(cx, response).await?
        } else {
            h.on_response(cx, response)
        };
        // `intercept` asked for its routes to take the response.
        let routes = response
            .extensions_mut()
            .remove::<crate::http::handlers::Intercepted>()
            .and_then(|i| h.indexed_routes(i.0));
        if let Some(list) = routes {
            let written = run(list, cx).await?;
            response = crate::http::handlers::intercept_merge(response, written);
        }
    }
    Ok(response)
}
