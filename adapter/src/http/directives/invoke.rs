//! `invoke` (`invoke` handler: runs a named route):
//!
//! ```text
//! invoke [<matcher>] <route_name>
//! ```
//!
//! The named route (`&(name) { … }`) is recorded as used, together with
//! every named route it invokes in turn (transitively, cycles allowed), so
//! the server holding this site gets them all in its `named_routes`; an
//! undefined name, at any depth, is reported when the servers are
//! assembled. Nothing may follow the name, not even a block.

use crate::error::Result;
use crate::http::helper::{Helper, State};
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let Some(name) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    if h.next() {
        return Err(h.arg_err());
    }
    record(h.state, &name);
    Ok(Obj::handler("invoke").set("name", name).build())
}

/// Marks `name` and the named routes it reaches through its own
/// `invoke`s as used (breadth-first; a name already marked is not
/// followed again, so cycles end).
fn record(state: &mut State, name: &str) {
    let mut queue = std::collections::VecDeque::from([name.to_string()]);
    let mut seen = std::collections::BTreeSet::new();
    while let Some(n) = queue.pop_front() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(next) = state.named_route_invokes.get(&n) {
            queue.extend(next.iter().cloned());
        }
        state.invoked.insert(n);
    }
}

#[cfg(test)]
mod tests {
    use crate::http::testutil::adapt;
    use serde_json::json;

    #[test]
    fn nested_named_routes_are_pulled_in() {
        let src =
            "&(a) {\n\tinvoke b\n}\n\n&(b) {\n\tinvoke a\n\trespond b\n}\n\n:80 {\n\tinvoke a\n}\n";
        let v = adapt(src).unwrap();
        let named = &v["apps"]["http"]["servers"]["srv0"]["named_routes"];
        assert_eq!(
            named["a"],
            json!({"handle": [{"handler": "invoke", "name": "b"}]})
        );
        assert!(named.get("b").is_some());
    }

    #[test]
    fn undefined_nested_route_is_an_error() {
        let src = "&(a) {\n\tinvoke nope\n}\n\n:80 {\n\tinvoke a\n}\n";
        let e = adapt(src).unwrap_err();
        assert!(e
            .message
            .contains("cannot invoke named route 'nope', which was not defined"));
    }

    #[test]
    fn nothing_may_follow_the_name() {
        let e = adapt(":80 {\n\tinvoke a b\n}\n").unwrap_err();
        assert!(e.message.contains("wrong argument count"));
        let e = adapt(":80 {\n\tinvoke\n}\n").unwrap_err();
        assert!(e.message.contains("wrong argument count"));
    }
}
