//! Hiding the config files from `file_server` (Caddy's
//! `FinalizeUnmarshalCaddyfile` and the file server's `fileHidden`): each
//! file the site was read from is added to `hide` unless a pattern there
//! already hides it; a bare name gets a `./` so that only that file, not
//! every file of that name, is hidden.
//!
//! A `hide` pattern without a `/` hides any path component matching it
//! (a glob); one with a `/` hides paths it prefixes (at a component
//! boundary) or matches as a glob.

/// The `hide` entry to add for the config file `file`, if it is not
/// hidden yet.
pub fn config_file_entry(file: &str, hide: &[String]) -> Option<String> {
    let file = clean(file);
    if file_hidden(&file, hide) {
        return None;
    }
    Some(if file.contains('/') {
        file
    } else {
        format!("./{file}")
    })
}

/// Whether `filename` is hidden by any of the patterns.
fn file_hidden(filename: &str, hide: &[String]) -> bool {
    hide.iter().any(|h| {
        if !h.contains('/') {
            if filename.split('/').any(|c| glob_match(h, c)) {
                return true;
            }
        } else if let Some(rest) = filename.strip_prefix(h.as_str()) {
            if rest.starts_with('/') {
                return true;
            }
        }
        glob_match(h, filename)
    })
}

/// Go's `filepath.Match` (`*` and `?` do not cross `/`); a malformed
/// pattern matches nothing.
fn glob_match(pattern: &str, name: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches_with(name, options))
}

/// Go's `filepath.Clean` (lexical: `.` and `..` resolved, slashes
/// collapsed).
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hide(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bare_names_get_a_dot_slash() {
        assert_eq!(
            config_file_entry("Caddyfile", &[]),
            Some("./Caddyfile".into())
        );
        assert_eq!(
            config_file_entry("/etc/caddy/./Caddyfile", &[]),
            Some("/etc/caddy/Caddyfile".into())
        );
    }

    #[test]
    fn covered_files_are_not_added() {
        assert_eq!(config_file_entry("Caddyfile", &hide(&["Caddyfile"])), None);
        assert_eq!(
            config_file_entry("/etc/caddy/Caddyfile", &hide(&["/etc"])),
            None
        );
        assert_eq!(
            config_file_entry("/etc/caddy/Caddyfile", &hide(&["/etc/*/Caddy*"])),
            None
        );
        assert_eq!(
            config_file_entry("/etcx/Caddyfile", &hide(&["/etc"])),
            Some("/etcx/Caddyfile".into())
        );
    }

    #[test]
    fn clean_is_lexical() {
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/../a//b/."), "/a/b");
        assert_eq!(clean(""), ".");
    }
}
