//! The import graph: which file or snippet imported which, to reject
//! import cycles with Caddy's message ("a cycle of imports exists between
//! Caddyfile:import2 and Caddyfile:import1").
//!
//! Nodes are file paths, or `file:snippet` for snippets. An edge `a → b`
//! is refused when `a` is reachable from `b`.

use std::collections::{HashMap, HashSet};

/// Directed graph of imports (Caddy's `importGraph`).
#[derive(Debug, Default)]
pub(crate) struct ImportGraph {
    edges: HashMap<String, Vec<String>>,
}

impl ImportGraph {
    /// Adds `from → to` for every `to`, or says which edge would close a
    /// cycle.
    pub(crate) fn add_edges(&mut self, from: &str, tos: &[String]) -> Result<(), String> {
        for to in tos {
            self.add_edge(from, to)?;
        }
        Ok(())
    }

    fn add_edge(&mut self, from: &str, to: &str) -> Result<(), String> {
        if self.reaches(to, from) {
            return Err(format!("a cycle of imports exists between {from} and {to}"));
        }
        let targets = self.edges.entry(from.to_string()).or_default();
        if !targets.iter().any(|t| t == to) {
            targets.push(to.to_string());
        }
        Ok(())
    }

    /// Whether `target` is `start` or reachable from it.
    fn reaches(&self, start: &str, target: &str) -> bool {
        if start == target {
            return true;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = vec![start];
        while let Some(node) = stack.pop() {
            for next in self.edges.get(node).into_iter().flatten() {
                if next == target {
                    return true;
                }
                if seen.insert(next.as_str()) {
                    stack.push(next.as_str());
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::ImportGraph;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn self_import_is_a_cycle() {
        let mut g = ImportGraph::default();
        let err = g.add_edges("a", &v(&["a"])).unwrap_err();
        assert_eq!(err, "a cycle of imports exists between a and a");
    }

    #[test]
    fn indirect_cycle_is_found_with_caddys_wording() {
        let mut g = ImportGraph::default();
        g.add_edges("Caddyfile", &v(&["Caddyfile:import1"]))
            .unwrap();
        g.add_edges("Caddyfile:import1", &v(&["Caddyfile:import2"]))
            .unwrap();
        let err = g
            .add_edges("Caddyfile:import2", &v(&["Caddyfile:import1"]))
            .unwrap_err();
        assert_eq!(
            err,
            "a cycle of imports exists between Caddyfile:import2 and Caddyfile:import1"
        );
    }

    #[test]
    fn diamonds_and_repeats_are_fine() {
        let mut g = ImportGraph::default();
        g.add_edges("root", &v(&["a", "b"])).unwrap();
        g.add_edges("a", &v(&["shared"])).unwrap();
        g.add_edges("b", &v(&["shared"])).unwrap();
        g.add_edges("root", &v(&["a"])).unwrap();
        assert_eq!(g.edges["root"], v(&["a", "b"]));
    }
}
