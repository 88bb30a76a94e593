//! Caddy's template functions over files and text: `readFile`,
//! `listFiles`, `fileExists`, `fileStat` (paths relative to the handler's
//! `file_root`, never outside it), `splitFrontMatter` (YAML `---`, TOML
//! `+++`, JSON `{`), `markdown` (CommonMark with GitHub's tables,
//! strikethrough, task lists, footnotes, and heading IDs), `stripHTML`,
//! `humanize` (`size`, `time[:layout]`) and `pathEscape`.

use super::funcs::time;
use super::value::Value;
use crate::util::sanitized_join;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Reads a file under `root`.
pub fn read(root: &str, name: &str) -> Result<String, String> {
    let path = sanitized_join(root, name);
    std::fs::read(&path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("open {name}: {e}"))
}

/// The functions of this file; `None` for other names.
pub fn call(root: &str, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let arg = || match args {
        [v] => Ok(match v {
            Value::Str(s) => s.to_string(),
            other => other.display(),
        }),
        _ => Err(format!("wrong number of args: want 1 got {}", args.len())),
    };
    Some(match name {
        "readFile" => arg().and_then(|n| read(root, &n)).map(Value::str),
        "listFiles" => arg().and_then(|n| list(root, &n)),
        "fileExists" => {
            arg().map(|n| Value::Bool(std::fs::metadata(sanitized_join(root, &n)).is_ok()))
        }
        "fileStat" => arg().and_then(|n| stat(root, &n)),
        "splitFrontMatter" => arg().and_then(|s| split_front_matter(&s)),
        "markdown" => arg().map(|s| Value::str(markdown(&s))),
        "stripHTML" => arg().map(|s| Value::str(strip_html(&s))),
        "pathEscape" => arg().map(|s| {
            Value::str(percent_encoding::utf8_percent_encode(&s, PATH_SEGMENT).to_string())
        }),
        "humanize" => humanize(args),
        _ => return None,
    })
}

/// What Go's `url.PathEscape` keeps.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

fn list(root: &str, name: &str) -> Result<Value, String> {
    let dir = sanitized_join(root, name);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{name}: {e}"))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(Value::list(names.into_iter().map(Value::str).collect()))
}

fn stat(root: &str, name: &str) -> Result<Value, String> {
    let path = sanitized_join(root, name);
    let m = std::fs::metadata(&path).map_err(|e| format!("stat {name}: {e}"))?;
    let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    Ok(Value::map(BTreeMap::from([
        ("Name".to_string(), Value::str(base)),
        ("Size".to_string(), Value::Int(m.len() as i64)),
        ("IsDir".to_string(), Value::Bool(m.is_dir())),
        (
            "ModTime".to_string(),
            Value::Time(m.modified().unwrap_or(SystemTime::UNIX_EPOCH)),
        ),
    ])))
}

/// Caddy's `extractFrontMatter`: the first non-blank line opens it.
fn split_front_matter(input: &str) -> Result<Value, String> {
    let doc = |meta: Value, body: &str| {
        Value::map(BTreeMap::from([
            ("Meta".to_string(), meta),
            ("Body".to_string(), Value::str(body)),
        ]))
    };
    let mut offset = 0;
    let mut first = None;
    for line in input.split_inclusive('\n') {
        if !line.trim().is_empty() {
            first = Some((offset, line));
            break;
        }
        offset += line.len();
    }
    let Some((start, line)) = first.filter(|(_, l)| l.ends_with('\n')) else {
        return Ok(doc(Value::map(BTreeMap::new()), input));
    };
    let open_end = start + line.len() - 1;
    let (closers, kind): (&[&str], _) = match line.trim() {
        "---" => (&["---", "..."], "yaml"),
        "+++" => (&["+++"], "toml"),
        "{" => (&["}"], "json"),
        _ => return Ok(doc(Value::map(BTreeMap::new()), input)),
    };
    let rest = &input[open_end..];
    let (at, fence) = closers
        .iter()
        .filter_map(|f| rest.find(&format!("\n{f}")).map(|i| (i, *f)))
        .min()
        .ok_or("unterminated front matter")?;
    let fm = &rest[..at + 1];
    let body = &rest[at + 1 + fence.len()..];
    let meta: serde_json::Value = match kind {
        "yaml" => serde_yaml::from_str::<Option<serde_json::Value>>(fm)
            .map_err(|e| e.to_string())?
            .unwrap_or_default(),
        "toml" => toml::from_str(fm).map_err(|e| e.to_string())?,
        _ => serde_json::from_str(&format!("{{{fm}}}")).map_err(|e| e.to_string())?,
    };
    let meta = match meta {
        serde_json::Value::Null => Value::map(BTreeMap::new()),
        m => Value::from_json(&m),
    };
    Ok(doc(meta, body))
}

/// Markdown to HTML; raw HTML passes through, as Caddy's (unsafe) mode.
pub fn markdown(src: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut events: Vec<Event<'_>> = Parser::new_ext(src, opts).collect();
    let mut used: Vec<String> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { id: None, .. }) = &events[i] {
            let mut text = String::new();
            for e in &events[i + 1..] {
                match e {
                    Event::End(_) => break,
                    Event::Text(t) | Event::Code(t) => text.push_str(t),
                    _ => {}
                }
            }
            let mut id = heading_id(&text);
            let base = id.clone();
            let mut n = 1;
            while used.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            used.push(id.clone());
            if let Event::Start(Tag::Heading { id: slot, .. }) = &mut events[i] {
                *slot = Some(CowStr::from(id));
            }
        }
        i += 1;
    }
    let mut out = String::with_capacity(src.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out
}

/// Goldmark's automatic heading IDs: lower-cased letters and digits,
/// spaces and dashes as `-`, the rest dropped.
fn heading_id(text: &str) -> String {
    let mut id = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '_' {
            id.extend(c.to_lowercase());
        } else if c == ' ' || c == '-' {
            id.push('-');
        }
    }
    if id.is_empty() {
        id.push_str("heading");
    }
    id
}

/// Caddy's `stripHTML`: drops tags (nested, with quoted attribute values),
/// keeps the text outside them.
pub fn strip_html(s: &str) -> String {
    // Caddy's funcStripHTML: tags nest by depth, `>` inside a quoted
    // attribute value does not close one, an unclosed tag swallows the
    // rest, a stray `>` outside any tag stays
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match c {
            '"' | '\'' if depth > 0 && quote.is_none() => quote = Some(c),
            _ if depth > 0 && quote == Some(c) => quote = None,
            '<' if quote.is_none() => depth += 1,
            '>' if quote.is_none() && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `humanize "size" N`, `humanize "time[:layout]" T`.
fn humanize(args: &[Value]) -> Result<Value, String> {
    let [kind, input] = args else {
        return Err(format!("wrong number of args: want 2 got {}", args.len()));
    };
    let kind = kind.as_str()?;
    let input = match input {
        Value::Str(s) => s.to_string(),
        other => other.display(),
    };
    let (kind, layout) = kind
        .split_once(':')
        .unwrap_or((kind, "Mon, 02 Jan 2006 15:04:05 -0700"));
    Ok(Value::str(match kind {
        "size" => {
            let n: u64 = input
                .trim()
                .parse()
                .map_err(|_| format!("invalid size {input:?}"))?;
            bytes(n)
        }
        "time" => relative(time::parse(layout, &input)?, SystemTime::now()),
        other => return Err(format!("no know function was given: {other}")),
    }))
}

/// go-humanize's `Bytes`: SI units, one decimal below 10.
fn bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let val = ((n as f64) / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", units[e])
    } else {
        format!("{val:.0} {}", units[e])
    }
}

/// go-humanize's `Time`: `3 days ago`, `1 hour from now`, `now`.
fn relative(t: SystemTime, now: SystemTime) -> String {
    let (d, label) = match now.duration_since(t) {
        Ok(d) => (d.as_secs(), "ago"),
        Err(e) => (e.duration().as_secs(), "from now"),
    };
    const DAY: u64 = 86_400;
    let (n, unit) = match d {
        0 => return "now".into(),
        1 => (1, "second"),
        2..=59 => (d, "seconds"),
        60..=119 => (1, "minute"),
        120..=3599 => (d / 60, "minutes"),
        3600..=7199 => (1, "hour"),
        7200..=86_399 => (d / 3600, "hours"),
        86_400..=172_799 => (1, "day"),
        _ if d < 7 * DAY => (d / DAY, "days"),
        _ if d < 14 * DAY => (1, "week"),
        _ if d < 30 * DAY => (d / (7 * DAY), "weeks"),
        _ if d < 60 * DAY => (1, "month"),
        _ if d < 365 * DAY => (d / (30 * DAY), "months"),
        _ if d < 547 * DAY => (1, "year"),
        _ if d < 730 * DAY => (2, "years"),
        _ => (d / (365 * DAY), "years"),
    };
    format!("{n} {unit} {label}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_helpers() {
        assert_eq!(
            strip_html("Shows <b>only</b> text <a href=\">\">x</a>"),
            "Shows only text x"
        );
        assert_eq!(bytes(2_048_000), "2.0 MB");
        assert_eq!(bytes(82_854_982), "83 MB");
        let now = SystemTime::now();
        assert_eq!(
            relative(now - std::time::Duration::from_secs(15 * 86_400), now),
            "2 weeks ago"
        );
        assert!(
            markdown("# Hello World\n\n~~x~~").contains("<h1 id=\"hello-world\">Hello World</h1>")
        );
        let doc = split_front_matter("\n---\ntitle: Hi\ntags: [a, b]\n---\nbody\n").unwrap();
        assert_eq!(
            doc.display(),
            "map[Body:\nbody\n Meta:map[tags:[a b] title:Hi]]"
        );
        let doc = split_front_matter("+++\ntitle = \"T\"\n+++\nB").unwrap();
        assert_eq!(doc.display(), "map[Body:\nB Meta:map[title:T]]");
        let doc = split_front_matter("{\n\"a\": 1\n}\nB").unwrap();
        assert_eq!(doc.display(), "map[Body:\nB Meta:map[a:1]]");
        assert!(split_front_matter("---\ntitle: x\n").is_err());
    }
}
