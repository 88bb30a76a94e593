//! Building one `caddyhttp.Server` per pairing (Caddy's
//! `serversFromPairings`): ambiguous sites, listen protocols, the
//! `auto_https` option, site ordering by specificity, each site's routes
//! wrapped in a host/path-matched subroute, error routes and named routes.
//! TLS connection policies and the auto-HTTPS skip lists are in
//! `autohttps.rs`; access-log wiring in `logging.rs`.

use super::super::helper::{Env, State};
use super::super::site::Site;
use super::super::value::{
    class, consolidate_routes, subroute_handler_owned, ConfigValue, MatcherSet, Payload, Route,
};
use super::listeners::{Pairing, SiteRef};
use super::{autohttps, logging, specificity, Server};
use crate::error::{Error, Result};
use crate::http::gosort::stable_sort;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

/// Each site's route values (taken out of the sites' piles), handed to the
/// pairings that serve the site: a copy while another pairing still needs
/// them, the values themselves to the last one.
pub struct RoutePiles {
    piles: Vec<Vec<ConfigValue>>,
    uses: Vec<usize>,
}

impl RoutePiles {
    pub fn take(sites: &mut [Site], pairings: &[Pairing]) -> Self {
        let mut uses = vec![0; sites.len()];
        for r in pairings.iter().flat_map(|p| &p.sites) {
            uses[r.site] += 1;
        }
        let piles = sites
            .iter_mut()
            .map(|s| s.pile.remove(class::ROUTE).unwrap_or_default())
            .collect();
        Self { piles, uses }
    }

    fn get(&mut self, site: usize) -> Vec<ConfigValue> {
        self.uses[site] = self.uses[site].saturating_sub(1);
        if self.uses[site] == 0 {
            std::mem::take(&mut self.piles[site])
        } else {
            self.piles[site].clone()
        }
    }
}

/// Builds the server for pairing number `index`.
pub fn build(
    index: usize,
    p: &mut Pairing,
    sites: &[Site],
    env: &Env,
    named_routes: &BTreeMap<String, Value>,
    state: &mut State,
    piles: &mut RoutePiles,
) -> Result<Server> {
    check_ambiguous(p, sites)?;
    let mut srv = Server {
        listen: p.addresses.iter().map(|(a, _)| a.clone()).collect(),
        ..Server::default()
    };
    srv.listen_protocols = listen_protocols(p);
    apply_auto_https_option(&mut srv, env);
    sort_sites(&mut p.sites, sites);
    if p.sites.iter().any(|r| sites[r.site].has(class::CUSTOM_LOG)) {
        srv.logs = Some(logging::ServerLogs::default());
    }
    add_named_routes(&mut srv, p, sites, named_routes)?;
    let mut tls = autohttps::TlsState::new(&srv, p, sites, env);
    for r in &p.sites {
        let site = &sites[r.site];
        let matchers = site_matchers(site, r);
        tls.site(&mut srv, site, r, env);
        let mut vals = piles.get(r.site);
        let routes = build_site_routes(&mut vals, env, state)?;
        srv.routes = append_subroute(
            std::mem::take(&mut srv.routes),
            routes,
            None,
            &matchers,
            p.sites.len(),
        );
        add_error_routes(&mut srv, site, &matchers, p.sites.len());
        logging::site_logs(&mut srv, site, r);
    }
    if let Some(logs) = &mut srv.logs {
        logs.skip_hosts.sort();
    }
    autohttps::detect_conflicting_schemes(&srv, p, sites, env)?;
    tls.finish(&mut srv, index)?;
    srv.routes = consolidate_routes(std::mem::take(&mut srv.routes));
    Ok(srv)
}

fn check_ambiguous(p: &Pairing, sites: &[Site]) -> Result<()> {
    let mut seen: HashSet<&str> = HashSet::new();
    for r in &p.sites {
        let mut mine: HashSet<&str> = HashSet::new();
        for &k in &r.keys {
            let key = sites[r.site].keys[k].text.as_str();
            if mine.insert(key) && !seen.insert(key) {
                return Err(Error::plain(format!("ambiguous site definition: {key}")));
            }
        }
    }
    Ok(())
}

fn listen_protocols(p: &Pairing) -> Vec<Option<Vec<String>>> {
    let lists: Vec<Option<Vec<String>>> = p
        .addresses
        .iter()
        .map(|(_, ps)| ps.iter().any(|x| !x.is_empty()).then(|| ps.clone()))
        .collect();
    if lists.iter().any(Option::is_some) {
        lists
    } else {
        Vec::new()
    }
}

fn apply_auto_https_option(srv: &mut Server, env: &Env) {
    for v in env.options.auto_https() {
        let ah = srv.auto_https.get_or_insert_with(Default::default);
        match v {
            "off" => ah.disabled = true,
            "disable_redirects" => ah.disable_redir = true,
            "disable_certs" => ah.disable_certs = true,
            "ignore_loaded_certs" => ah.ignore_loaded_certs = true,
            "prefer_wildcard" => ah.prefer_wildcard = true,
            _ => {}
        }
    }
}

/// Most specific sites first: catch-alls last, wildcard hosts after
/// exact ones, longer hosts then longer paths first.
fn sort_sites(refs: &mut [SiteRef], sites: &[Site]) {
    struct Key {
        host: usize,
        path: usize,
        wildcard: bool,
    }
    let key = |r: &SiteRef| {
        let (mut host, mut path, mut hs, mut ps, mut wildcard) = ("", "", 0, 0, false);
        for &k in &r.keys {
            let a = &sites[r.site].parsed_keys[k];
            if a.host.contains('*') || a.host.is_empty() {
                wildcard = true;
            }
            if specificity(&a.host) > hs {
                host = &a.host;
                hs = specificity(host);
            }
            if specificity(&a.path) > ps {
                path = &a.path;
                ps = specificity(path);
            }
        }
        let _ = host;
        Key {
            host: hs,
            path: path.len(),
            wildcard,
        }
    };
    let mut keyed: Vec<(Key, SiteRef)> = refs.iter().map(|r| (key(r), r.clone())).collect();
    stable_sort(&mut keyed, |(i, _), (j, _)| {
        if i.host == 0 {
            return false;
        }
        if j.host == 0 {
            return true;
        }
        if i.wildcard != j.wildcard {
            return j.wildcard && !i.wildcard;
        }
        if i.host == j.host {
            return i.path > j.path;
        }
        i.host > j.host
    });
    for (slot, (_, r)) in refs.iter_mut().zip(keyed) {
        *slot = r;
    }
}

fn add_named_routes(
    srv: &mut Server,
    p: &Pairing,
    sites: &[Site],
    named: &BTreeMap<String, Value>,
) -> Result<()> {
    for r in &p.sites {
        for v in sites[r.site].values(class::NAMED_ROUTE) {
            let Some(name) = v.as_json().and_then(Value::as_str) else {
                continue;
            };
            let Some(route) = named.get(name) else {
                return Err(Error::plain(format!(
                    "cannot invoke named route '{name}', which was not defined"
                )));
            };
            srv.named_routes.insert(name.to_string(), route.clone());
        }
    }
    Ok(())
}

/// The host/path matcher sets of a site's keys (Caddy's
/// `compileEncodedMatcherSets`).
fn site_matchers(site: &Site, r: &SiteRef) -> Vec<MatcherSet> {
    let mut pairs: Vec<(Vec<String>, Option<String>)> = Vec::new();
    let mut catch_all = false;
    for &k in &r.keys {
        let a = &site.parsed_keys[k];
        let idx = pairs.iter().position(|(_, p)| match p {
            None => a.path.is_empty(),
            Some(p) => *p == a.path,
        });
        let idx = idx.unwrap_or_else(|| {
            let path = (!a.path.is_empty()).then(|| a.path.clone());
            pairs.push((Vec::new(), path));
            pairs.len() - 1
        });
        if a.host.is_empty() && !catch_all {
            pairs[idx].0.clear();
            catch_all = true;
        }
        if catch_all {
            continue;
        }
        if !a.host.is_empty() && !pairs[idx].0.contains(&a.host) {
            pairs[idx].0.push(a.host.clone());
        }
    }
    pairs
        .into_iter()
        .filter_map(|(hosts, path)| {
            let mut set = MatcherSet::new();
            if !hosts.is_empty() {
                set.insert("host".into(), hosts.into());
            }
            if let Some(p) = path {
                set.insert("path".into(), vec![p].into());
            }
            (!set.is_empty()).then_some(set)
        })
        .collect()
}

fn build_site_routes(
    vals: &mut [super::super::value::ConfigValue],
    env: &Env,
    state: &mut State,
) -> Result<Vec<Route>> {
    let keys: std::rc::Rc<[crate::syntax::Token]> = std::rc::Rc::from(Vec::new());
    let mut h = super::super::helper::Helper::new(Vec::new(), env, state, Default::default(), keys);
    super::super::subroute::build_subroute(&mut h, vals, true)
}

/// Adds a site's routes to a route list: wrapped in a terminal subroute
/// route with the site's matchers, unless it is the only site, has no
/// matchers and uses no host matcher inside (Caddy's
/// `appendSubrouteToRouteList`).
pub fn append_subroute(
    mut list: Vec<Route>,
    routes: Vec<Route>,
    errors: Option<Vec<Route>>,
    matchers: &[MatcherSet],
    site_count: usize,
) -> Vec<Route> {
    if matchers.is_empty() && routes.is_empty() && errors.is_none() {
        return list;
    }
    let wrap = if matchers.is_empty() && site_count == 1 {
        routes
            .iter()
            .any(|r| r.matchers.iter().any(|m| m.contains_key("host")))
    } else {
        true
    };
    if !wrap {
        list.extend(routes);
        return list;
    }
    let mut route = Route {
        terminal: true,
        matchers: matchers.to_vec(),
        ..Route::default()
    };
    if !routes.is_empty() || errors.is_some() {
        route.handlers = vec![subroute_handler_owned(routes, errors)];
    }
    if !route.matchers.is_empty() || !route.handlers.is_empty() {
        list.push(route);
    }
    list
}

fn add_error_routes(srv: &mut Server, site: &Site, matchers: &[MatcherSet], n: usize) {
    let mut vals: Vec<&Vec<Route>> = site
        .values(class::ERROR_ROUTE)
        .iter()
        .filter_map(|v| match &v.value {
            Payload::Routes(rs) => Some(rs),
            _ => None,
        })
        .collect();
    if vals.is_empty() {
        return;
    }
    stable_sort(&mut vals, |i, j| {
        let i_none = i.first().is_none_or(|r| r.matchers.is_empty());
        let j_none = j.first().is_none_or(|r| r.matchers.is_empty());
        !i_none || j_none
    });
    let all: Vec<Route> = vals.into_iter().flatten().cloned().collect();
    let errors = srv.errors.get_or_insert_with(Vec::new);
    *errors = append_subroute(std::mem::take(errors), all, None, matchers, n);
}

/// An empty JSON object.
pub fn empty_obj() -> Value {
    Value::Object(Map::new())
}
