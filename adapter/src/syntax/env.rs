//! `{$VAR}` and `{$VAR:default}` substitution, done on the raw text before
//! lexing (as Caddy does), so one variable may expand into several tokens
//! or even braces.
//!
//! Caddy's rules: the first `}` after `{$` ends the name; an empty name is
//! left alone; an unset variable with no default becomes the empty string;
//! a substituted value is not scanned again. There is no escape for `{$`
//! here: `\{` is kept as written by the lexer and means a literal brace to
//! the placeholder layer.

/// Replaces every `{$NAME}` / `{$NAME:default}` in `input`, looking names
/// up with `env`. Returns the input unchanged (borrowed) when there is
/// nothing to replace.
pub fn replace_env_vars<'a>(
    input: &'a str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::borrow::Cow<'a, str> {
    if !input.contains("{$") {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(begin) = rest.find("{$") {
        let after = &rest[begin + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        let name = &after[..end];
        out.push_str(&rest[..begin]);
        if name.is_empty() {
            out.push_str("{$}");
        } else {
            let (key, default) = match name.split_once(':') {
                Some((k, d)) => (k, Some(d)),
                None => (name, None),
            };
            match env(key) {
                Some(value) => out.push_str(&value),
                None => out.push_str(default.unwrap_or("")),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Looks a variable up in the process environment.
pub fn std_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::replace_env_vars;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "HOSTS" => Some("a.example b.example".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("{$HOST}".into()),
            _ => None,
        }
    }

    fn sub(s: &str) -> String {
        replace_env_vars(s, &env).into_owned()
    }

    #[test]
    fn substitutes_set_variables() {
        assert_eq!(sub("{$HOST} {"), "example.com {");
        assert_eq!(sub("x{$HOST}y"), "xexample.comy");
        assert_eq!(sub("{$HOSTS}"), "a.example b.example");
    }

    #[test]
    fn defaults_apply_only_when_unset() {
        assert_eq!(sub("{$NOPE:8080}"), "8080");
        assert_eq!(sub("{$HOST:other}"), "example.com");
        assert_eq!(sub("{$EMPTY:dflt}"), "", "set but empty wins over default");
        assert_eq!(sub("{$NOPE:a:b}"), "a:b", "only the first colon splits");
    }

    #[test]
    fn unset_without_default_is_empty() {
        assert_eq!(sub("a{$NOPE}b"), "ab");
    }

    #[test]
    fn edge_cases_follow_caddy() {
        assert_eq!(sub("{$}"), "{$}", "empty name is left alone");
        assert_eq!(sub("{$HOST"), "{$HOST", "unclosed is left alone");
        assert_eq!(sub("{$NESTED}"), "{$HOST}", "values are not rescanned");
        assert_eq!(sub("\\{$HOST}"), "\\example.com", "no escape for {{$");
        assert_eq!(sub("{host} {$HOST}"), "{host} example.com");
        assert!(matches!(
            replace_env_vars("plain", &env),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
