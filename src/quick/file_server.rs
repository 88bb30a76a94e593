//! `bellhop file-server`: a static file server, as `caddy file-server`:
//! `--root` (default: the current folder), `--listen` (default `:80`, or
//! `:443` with `--domain`, which also limits the site to that host and
//! serves it over HTTPS with a managed certificate), zstd and gzip
//! compression unless `--no-compress`, `--browse` listings,
//! `--templates`, `--precompressed` sidecar files in the order given.
//! `file-server export-template` prints the browse page's template (a
//! starting point for `browse <template_file>`).

use crate::Outcome;
use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

/// Caddy's `defaultDirEntryLimit`.
const FILE_LIMIT: u64 = 10_000;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Domain name at which to serve the files.
    #[arg(long, short = 'd', default_value = "")]
    domain: String,
    /// The path to the root of the site.
    #[arg(long, short = 'r', default_value = "")]
    root: String,
    /// The address to which to bind the listener.
    #[arg(long, short = 'l', default_value = "")]
    listen: String,
    /// Enable directory browsing.
    #[arg(long, short = 'b')]
    browse: bool,
    /// Show symlink paths when browse is enabled.
    #[arg(long)]
    reveal_symlinks: bool,
    /// Enable template rendering.
    #[arg(long, short = 't')]
    templates: bool,
    /// Enable the access log.
    #[arg(long, short = 'a')]
    access_log: bool,
    /// Enable verbose debug logs.
    #[arg(long, short = 'v')]
    debug: bool,
    /// Max directories to read.
    #[arg(long, short = 'f', default_value_t = FILE_LIMIT)]
    file_limit: u64,
    /// Disable Zstandard and Gzip compression.
    #[arg(long)]
    no_compress: bool,
    /// Precompressed file extensions (gzip, zstd, br), preferred in order.
    #[arg(long, short = 'p', value_delimiter = ',')]
    precompressed: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Print the default file browser template to stdout.
    ExportTemplate,
}

/// The config the flags describe.
pub fn build(args: &Args) -> Result<Vec<u8>> {
    let mut handlers = Vec::new();
    if !args.no_compress {
        handlers.push(json!({"handler": "encode", "encodings": {"gzip": {}, "zstd": {}}, "prefer": ["zstd", "gzip"]}));
    }
    if args.templates {
        let mut t = json!({"handler": "templates"});
        if !args.root.is_empty() {
            t["file_root"] = args.root.clone().into();
        }
        handlers.push(t);
    }
    let mut fs = json!({"handler": "file_server"});
    if !args.root.is_empty() {
        fs["root"] = args.root.clone().into();
    }
    if !args.precompressed.is_empty() {
        let mut modules = Map::new();
        for p in &args.precompressed {
            if !matches!(p.as_str(), "gzip" | "zstd" | "br") {
                bail!("getting module named 'http.precompressed.{p}': module not registered: http.precompressed.{p}");
            }
            modules.insert(p.clone(), json!({}));
        }
        fs["precompressed"] = Value::Object(modules);
        fs["precompressed_order"] = json!(args.precompressed);
    }
    if args.browse {
        let mut b = json!({});
        if args.reveal_symlinks {
            b["reveal_symlinks"] = true.into();
        }
        if args.file_limit != 0 {
            b["file_limit"] = args.file_limit.into();
        }
        fs["browse"] = b;
    }
    handlers.push(fs);
    let mut route = json!({"handle": handlers});
    if !args.domain.is_empty() {
        route["match"] = json!([{"host": [args.domain]}]);
    }
    let listen = match (args.listen.as_str(), args.domain.is_empty()) {
        ("", true) => ":80".to_string(),
        ("", false) => ":443".to_string(),
        (l, _) => l.to_string(),
    };
    let server = super::server(&listen, route, args.access_log);
    Ok(super::config(
        json!({"http": {"servers": {"static": server}}}),
        args.debug,
    ))
}

pub fn run(args: Args) -> Result<Outcome> {
    if let Some(Sub::ExportTemplate) = args.command {
        use std::io::Write;
        std::io::stdout().write_all(bellhop_runtime::http::handlers::BROWSE_TEMPLATE.as_bytes())?;
        return Ok(Outcome::Ok);
    }
    let json = build(&args)?;
    crate::run::serve_built(json, "file-server", false)
}
