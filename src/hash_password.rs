//! `bellhop hash-password`: hashes a password for `basic_auth`, as
//! `caddy hash-password`: bcrypt (`$2a$`, cost 14 by default; a cost out
//! of bcrypt's range falls back to it) or argon2id (Caddy's PHC string,
//! `$argon2id$v=19$m=…,t=…,p=…$salt$key`). The password comes from
//! `--plaintext`, else standard input: asked twice, unechoed, on a
//! terminal; its first line otherwise.

use crate::Outcome;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plaintext password.
    #[arg(long, short = 'p')]
    plaintext: Option<String>,
    /// Name of the hash algorithm (bcrypt or argon2id).
    #[arg(long, short = 'a', default_value = "bcrypt")]
    algorithm: String,
    /// Bcrypt hashing cost (only used with 'bcrypt' algorithm).
    #[arg(long, default_value_t = 14)]
    bcrypt_cost: i64,
    /// Number of iterations for Argon2id hashing.
    #[arg(long, default_value_t = 1)]
    argon2id_time: u32,
    /// Memory to use in KiB for Argon2id hashing.
    #[arg(long, default_value_t = 46 * 1024)]
    argon2id_memory: u32,
    /// Number of CPU threads to use for Argon2id hashing.
    #[arg(long, default_value_t = 1)]
    argon2id_threads: u8,
    /// Length of the resulting Argon2id hash in bytes.
    #[arg(long, default_value_t = 32)]
    argon2id_keylen: u32,
}

/// A line read from the terminal without echo.
fn read_hidden(prompt: &str) -> Result<String> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("turning echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn password(args: &Args) -> Result<String> {
    if let Some(p) = args.plaintext.as_ref().filter(|p| !p.is_empty()) {
        return Ok(p.clone());
    }
    let p = if std::io::stdin().is_terminal() {
        let p = read_hidden("Enter password: ")?;
        if read_hidden("Confirm password: ")? != p {
            bail!("password does not match");
        }
        p
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !line.ends_with('\n') {
            bail!("EOF");
        }
        line.pop();
        line
    };
    if p.is_empty() {
        bail!("plaintext is required");
    }
    Ok(p)
}

/// The hash of `plain` as the flags ask.
fn hash(args: &Args, plain: &str) -> Result<String> {
    match args.algorithm.as_str() {
        "bcrypt" => {
            let cost = u32::try_from(args.bcrypt_cost)
                .ok()
                .filter(|c| (4..=31).contains(c))
                .unwrap_or(14);
            let parts = bcrypt::hash_with_result(plain, cost)?;
            Ok(parts.format_for_version(bcrypt::Version::TwoA))
        }
        "argon2id" => {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let params = argon2::Params::new(
                args.argon2id_memory,
                args.argon2id_time,
                u32::from(args.argon2id_threads),
                Some(args.argon2id_keylen as usize),
            )
            .map_err(|e| anyhow::anyhow!("argon2id parameters: {e}"))?;
            let a =
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
            let h = a
                .hash_password(plain.as_bytes(), &salt)
                .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            Ok(h.to_string())
        }
        other => bail!("unrecognized hash algorithm: {other}"),
    }
}

pub fn run(args: Args) -> Result<Outcome> {
    let plain = password(&args)?;
    let h = hash(&args, &plain)?;
    writeln!(std::io::stdout(), "{h}")?;
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn args(list: &[&str]) -> Args {
        T::parse_from(std::iter::once("x").chain(list.iter().copied())).a
    }

    #[test]
    fn hashes_verify_and_look_like_caddys() {
        let a = args(&["--bcrypt-cost", "4"]);
        let h = hash(&a, "hunter2").unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert!(bcrypt::verify("hunter2", &h).unwrap());
        // Out of bcrypt's range: Caddy's default cost.
        assert!(hash(&args(&["--bcrypt-cost", "99"]), "x")
            .unwrap()
            .starts_with("$2a$14$"));
        let a = args(&["-a", "argon2id", "--argon2id-memory", "1024"]);
        let h = hash(&a, "hunter2").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{h}");
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"hunter2", &parsed)
            .is_ok());
        assert!(hash(&args(&["-a", "md5"]), "x")
            .unwrap_err()
            .to_string()
            .contains("unrecognized hash algorithm: md5"));
    }
}
