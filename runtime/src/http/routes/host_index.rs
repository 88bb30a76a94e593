//! Skipping runs of host-only routes with one hash lookup.
//!
//! A config with many sites is a long list of routes that each match one
//! site's names (`"match": [{"host": [...]}]`). Caddy tries them in
//! order, so a request for the last site tests every host matcher before
//! it. Here, a run of consecutive routes whose only matcher is a `host`
//! matcher of literal names is indexed by name when the list is
//! provisioned: arriving at a route of such a run, the interpreter looks
//! the request's host up once and jumps to the next route of the run that
//! names it, or past the run. The routes it jumps to are still entered the
//! ordinary way (matchers, groups), and the lookup is made again after
//! each one, with the host as it is then, so the order and the outcome are
//! those of trying every route.

use super::Route;
use smallvec::SmallVec;
use std::collections::HashMap;

/// Runs shorter than this are tried route by route.
const MIN_RUN: usize = 8;

/// Marks a route that belongs to no indexed run.
const NO_RUN: u32 = u32::MAX;

/// The indexed runs of one route list.
#[derive(Default)]
pub struct HostIndex {
    /// For each route, the index of its run in `runs`, or [`NO_RUN`].
    run_of: Vec<u32>,
    runs: Vec<Run>,
}

struct Run {
    start: usize,
    /// One past the run's last route.
    end: usize,
    /// Lowercased name → the routes of the run that name it, in order.
    by_host: HashMap<Box<str>, SmallVec<[u32; 1]>>,
}

/// The literal names a route matches on, when a host matcher of literal
/// names is its only matcher.
fn host_only(route: &Route) -> Option<&[String]> {
    match route.matchers.0.as_slice() {
        [set] => match set.as_slice() {
            [m] => m.exact_hosts(),
            _ => None,
        },
        _ => None,
    }
}

impl HostIndex {
    /// Indexes the runs of host-only routes in `routes`.
    pub fn build(routes: &[Route]) -> Self {
        let mut index = HostIndex::default();
        let mut i = 0;
        while i < routes.len() {
            let start = i;
            while i < routes.len() && host_only(&routes[i]).is_some() {
                i += 1;
            }
            if i - start >= MIN_RUN {
                index.add_run(routes, start, i);
            }
            i = i.max(start + 1);
        }
        if !index.runs.is_empty() {
            index.run_of.resize(routes.len(), NO_RUN);
            for (r, run) in index.runs.iter().enumerate() {
                index.run_of[run.start..run.end].fill(r as u32);
            }
        }
        index
    }

    fn add_run(&mut self, routes: &[Route], start: usize, end: usize) {
        let mut by_host: HashMap<Box<str>, SmallVec<[u32; 1]>> = HashMap::new();
        for (i, route) in routes.iter().enumerate().take(end).skip(start) {
            for name in host_only(route).unwrap_or_default() {
                let list = by_host.entry(name.as_str().into()).or_default();
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
        self.runs.push(Run {
            start,
            end,
            by_host,
        });
    }

    /// When route `at` belongs to an indexed run: the first route of the
    /// run at or after `at` that names the request's host (`host` is asked
    /// only then), or the run's end when none does. `None` when `at` is not
    /// in an indexed run.
    pub fn next_candidate<'h>(&self, at: usize, host: impl FnOnce() -> &'h str) -> Option<usize> {
        let r = *self.run_of.get(at)?;
        if r == NO_RUN {
            return None;
        }
        let run = &self.runs[r as usize];
        let host = host();
        let found = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            run.by_host.get(host.to_ascii_lowercase().as_str())
        } else {
            run.by_host.get(host)
        };
        let next = found
            .and_then(|l| l.iter().find(|&&i| i as usize >= at))
            .map_or(run.end, |&i| i as usize);
        Some(next)
    }
}
