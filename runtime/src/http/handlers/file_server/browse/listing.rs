//! What a directory listing holds, as Caddy's `browseTemplateContext`:
//! the entries read from disk (hidden ones left out), their counts and
//! total size, then sorted (`name`, `namedirfirst`, `size`, `time`,
//! ascending or descending) and cut by `offset` and `limit` as the
//! request asks. Sizes read as go-humanize's `IBytes`, breadcrumbs as
//! Caddy's `Breadcrumbs`.

use std::time::{SystemTime, UNIX_EPOCH};

/// One entry, as Caddy's `fileInfo`.
pub struct Entry {
    /// The name, with a `/` after a directory's.
    pub name: String,
    name_lower: String,
    /// A symlink's target's size.
    pub size: u64,
    /// `./name`, escaped.
    pub url: String,
    pub mod_time: SystemTime,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    pub is_dir: bool,
    pub is_symlink: bool,
    /// Where a symlink points, with `reveal_symlinks`.
    pub symlink_path: String,
}

/// A directory's listing.
#[derive(Default)]
pub struct Listing {
    /// The directory's own name (the last segment of the path, decoded).
    pub name: String,
    /// The request path, cleaned, escaped as the request had it.
    pub path: String,
    pub can_go_up: bool,
    pub items: Vec<Entry>,
    pub offset: usize,
    pub limit: usize,
    pub num_dirs: usize,
    pub num_files: usize,
    /// Files' own sizes (a symlink's is the link's).
    pub total_size: u64,
    /// Files' sizes with symlinks followed.
    pub total_size_following: u64,
    pub sort: String,
    pub order: String,
    pub layout: String,
    /// The newest of the directory's and its entries' times.
    pub last_modified: Option<SystemTime>,
}

/// How a listing is read from disk.
pub struct ReadOptions<'a> {
    /// At most this many entries, in directory order.
    pub limit: usize,
    pub reveal_symlinks: bool,
    pub hidden: &'a (dyn Fn(&str) -> bool + Sync),
}

impl Listing {
    /// Reads directory `dir`, whose (escaped) request path is `raw_path`.
    pub async fn read(dir: &str, raw_path: &str, o: &ReadOptions<'_>) -> std::io::Result<Listing> {
        let path = crate::util::go_clean(raw_path);
        let decoded = crate::http::context::decode_path(&path).into_owned();
        let mut l = Listing {
            name: match decoded.rsplit('/').find(|s| !s.is_empty()) {
                Some(n) => n.to_string(),
                None => "/".to_string(),
            },
            can_go_up: path.len() > 1,
            path,
            last_modified: tokio::fs::metadata(dir).await?.modified().ok(),
            ..Listing::default()
        };
        let mut rd = tokio::fs::read_dir(dir).await?;
        // The limit counts entries read, hidden ones too (as Go's ReadDir(n)).
        for _ in 0..o.limit {
            let Some(entry) = rd.next_entry().await? else {
                break;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let full = format!("{}/{name}", dir.trim_end_matches('/'));
            if (o.hidden)(&full) {
                continue;
            }
            let Ok(meta) = entry.metadata().await else {
                tracing::error!(name, dir, "could not get info about directory entry");
                continue;
            };
            l.add(name, &full, meta, o.reveal_symlinks).await;
        }
        Ok(l)
    }

    async fn add(&mut self, name: String, full: &str, meta: std::fs::Metadata, reveal: bool) {
        let mod_time = meta.modified().unwrap_or(UNIX_EPOCH);
        if self.last_modified.is_none_or(|t| mod_time > t) {
            self.last_modified = Some(mod_time);
        }
        let is_symlink = meta.file_type().is_symlink();
        let target = match is_symlink {
            true => tokio::fs::metadata(full).await.ok(),
            false => None,
        };
        let is_dir = meta.is_dir() || target.as_ref().is_some_and(|t| t.is_dir());
        let size = target.as_ref().map_or(meta.len(), |t| t.len());
        if is_dir {
            self.num_dirs += 1;
        } else {
            self.num_files += 1;
            self.total_size += meta.len();
            self.total_size_following += size;
        }
        let symlink_path = match is_symlink && reveal {
            true => tokio::fs::read_link(full)
                .await
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            false => String::new(),
        };
        let name = if is_dir { format!("{name}/") } else { name };
        self.items.push(Entry {
            url: format!("./{}", crate::util::go_escape_path(&name)),
            name_lower: name.to_lowercase(),
            name,
            size,
            mod_time,
            mode: go_file_mode(&meta),
            is_dir,
            is_symlink,
            symlink_path,
        });
    }

    /// Sorts by `sort` in `order` (an unknown `sort` keeps directory
    /// order), then skips `offset` entries and keeps `limit` (each applied
    /// only when within the number of entries), as Caddy's
    /// `applySortAndLimit`.
    pub fn sort_and_limit(&mut self, sort: &str, order: &str, limit: &str, offset: &str) {
        self.sort = sort.to_string();
        self.order = order.to_string();
        let cmp: Option<fn(&Entry, &Entry) -> std::cmp::Ordering> = match sort {
            "name" => Some(|a, b| a.name_lower.cmp(&b.name_lower)),
            "namedirfirst" => {
                Some(|a, b| (!a.is_dir, &a.name_lower).cmp(&(!b.is_dir, &b.name_lower)))
            }
            "size" => Some(by_size),
            "time" => Some(|a, b| a.mod_time.cmp(&b.mod_time)),
            _ => None,
        };
        if let Some(cmp) = cmp {
            match order {
                "desc" => self.items.sort_by(|a, b| cmp(b, a)),
                _ => self.items.sort_by(cmp),
            }
        }
        if let Ok(n @ 1..) = offset.parse::<usize>() {
            if n <= self.items.len() {
                self.items.drain(..n);
                self.offset = n;
            }
        }
        if let Ok(n @ 1..) = limit.parse::<usize>() {
            if n <= self.items.len() {
                self.items.truncate(n);
                self.limit = n;
            }
        }
    }

    /// Each segment of the path with the relative link that leads to it
    /// (`../../`), the first one named `/`.
    pub fn breadcrumbs(&self) -> Vec<(String, String)> {
        if self.path.is_empty() {
            return Vec::new();
        }
        let p = self.path.strip_suffix('/').unwrap_or(&self.path);
        let parts: Vec<&str> = p.split('/').collect();
        let n = parts.len();
        parts
            .iter()
            .enumerate()
            .map(|(i, seg)| {
                let text = match (i, *seg) {
                    (0, "") => "/".to_string(),
                    _ => path_unescape(seg),
                };
                ("../".repeat(n - i - 1), text)
            })
            .collect()
    }
}

/// Go's `url.PathUnescape`, whose error (a bad escape) Caddy reads as
/// an empty string.
fn path_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let bad = (0..b.len()).any(|i| {
        b[i] == b'%'
            && !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
    });
    match bad {
        true => String::new(),
        false => percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned(),
    }
}

/// Caddy's size order: directories first (by name), then files by size.
fn by_size(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    if a.is_dir && b.is_dir {
        return a.name_lower.cmp(&b.name_lower);
    }
    let size = |e: &Entry| {
        if e.is_dir {
            -(1i128 << 31)
        } else {
            e.size as i128
        }
    };
    size(a).cmp(&size(b))
}

/// go-humanize's `IBytes`: `512 B`, `1.5 KiB`, `12 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 10 {
        return format!("{n} B");
    }
    let e = ((n as f64).ln() / 1024f64.ln()).floor() as usize;
    let val = ((n as f64) / 1024f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    match val < 10.0 {
        true => format!("{val:.1} {}", UNITS[e]),
        false => format!("{val:.0} {}", UNITS[e]),
    }
}

/// Go's `os.FileMode` of a file: permission bits and Go's type bits.
fn go_file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let raw = meta.permissions().mode();
    let ft = meta.file_type();
    let mut m = raw & 0o777;
    let bits = [
        (ft.is_dir(), 1 << 31),
        (ft.is_symlink(), 1 << 27),
        (ft.is_block_device(), 1 << 26),
        (ft.is_fifo(), 1 << 25),
        (ft.is_socket(), 1 << 24),
        (raw & 0o4000 != 0, 1 << 23),
        (raw & 0o2000 != 0, 1 << 22),
        (ft.is_char_device(), (1 << 26) | (1 << 21)),
        (raw & 0o1000 != 0, 1 << 20),
    ];
    for (on, bit) in bits {
        if on {
            m |= bit;
        }
    }
    m
}

/// Go's `FileMode.String()`: `drwxr-xr-x`, `Lrwxrwxrwx`, `-rw-r--r--`.
pub fn mode_string(m: u32) -> String {
    const TYPES: &[u8] = b"dalTLDpSugct?";
    let mut s = String::new();
    for (i, c) in TYPES.iter().enumerate() {
        if m & (1 << (31 - i)) != 0 {
            s.push(*c as char);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    const RWX: &[u8] = b"rwxrwxrwx";
    for (i, c) in RWX.iter().enumerate() {
        s.push(if m & (1 << (8 - i)) != 0 {
            *c as char
        } else {
            '-'
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_as_go_humanize() {
        let cases = [
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (10 * 1024, "10 KiB"),
            (82854982, "79 MiB"),
            (1 << 30, "1.0 GiB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size(n), want, "{n}");
        }
    }

    #[test]
    fn mode_strings_as_go() {
        assert_eq!(mode_string(0o644), "-rw-r--r--");
        assert_eq!(mode_string((1 << 31) | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string((1 << 27) | 0o777), "Lrwxrwxrwx");
    }

    /// Caddy's `TestBreadcrumbs` table (browsetplcontext_test.go): the
    /// path, then each crumb as `link=text`.
    #[test]
    fn breadcrumbs_as_caddy() {
        let table: &[(&str, &[&str])] = &[
            ("", &[]),
            ("/", &["=/"]),
            ("/foo/", &["../=/", "=foo"]),
            ("/foo/bar/", &["../../=/", "../=foo", "=bar"]),
            ("/foo bar/", &["../=/", "=foo bar"]),
            ("/foo bar/baz/", &["../../=/", "../=foo bar", "=baz"]),
            (
                "/100%25 test coverage/is a lie/",
                &["../../=/", "../=100% test coverage", "=is a lie"],
            ),
            ("/AC%2FDC/", &["../=/", "=AC/DC"]),
            (
                "/foo/%2e%2e%2f/bar",
                &["../../../=/", "../../=foo", "../=../", "=bar"],
            ),
            (
                "/foo/../bar",
                &["../../../=/", "../../=foo", "../=..", "=bar"],
            ),
            ("foo/bar/baz", &["../../=foo", "../=bar", "=baz"]),
            (
                "/qux/quux/corge/",
                &["../../../=/", "../../=qux", "../=quux", "=corge"],
            ),
            ("/مجلد/", &["../=/", "=مجلد"]),
            ("/مجلد-1/مجلد-2", &["../../=/", "../=مجلد-1", "=مجلد-2"]),
            ("/مجلد%2F1", &["../=/", "=مجلد/1"]),
        ];
        for (path, want) in table {
            let l = Listing {
                path: path.to_string(),
                ..Listing::default()
            };
            let got: Vec<String> = l
                .breadcrumbs()
                .iter()
                .map(|(l, t)| format!("{l}={t}"))
                .collect();
            assert_eq!(got, *want, "{path}");
        }
    }
}
