//! The old process's side of an upgrade: start the new binary with the
//! same `run` arguments, hand it every listening socket and the running
//! config over a unix socket in a private temporary directory, wait until
//! it serves, then stop accepting and tell it to take over.
//!
//! Any failure before that point (the binary does not start, exits, sends
//! an error, or stays silent past the timeout) leaves this process serving
//! as before: the child is killed if still running, and the reason is
//! returned (and logged by the caller).

use super::wire::{self, Outgoing};
use super::Request;
use bellhop_runtime::admin::Admin;
use bellhop_runtime::Runtime;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::process::{Child, Command};

/// Upgrades to a new process; its PID once it serves in our place.
pub async fn upgrade(admin: &Admin, req: &Request, argv: &[OsString]) -> Result<u32, String> {
    let binary = match &req.binary {
        Some(b) => b.clone(),
        None => own_binary()?,
    };
    let dir = tempfile::Builder::new()
        .prefix("bellhop-upgrade-")
        .tempdir()
        .map_err(|e| format!("creating the hand-off directory: {e}"))?;
    let path = dir.path().join("handoff.sock");
    let listener =
        UnixListener::bind(&path).map_err(|e| format!("binding {}: {e}", path.display()))?;
    tracing::info!(binary = %binary.display(), "upgrade: starting the new process");
    let mut child = Command::new(&binary)
        .args(child_args(argv))
        .env(super::ENV_SOCKET, &path)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let pid = child.id().unwrap_or(0);
    let outcome = tokio::time::timeout(req.timeout, converse(&listener, &mut child, admin)).await;
    let reason = match outcome {
        Ok(Ok(mut stream)) => {
            // It serves: stop accepting here, then let it take over.
            admin.runtime().hand_off();
            admin.close_listener();
            if let Err(e) = stream.write_all(b"go\n").await {
                tracing::warn!(error = %e, "upgrade: telling the new process to take over");
            }
            return Ok(pid);
        }
        Ok(Err(reason)) => reason,
        Err(_) => {
            let _ = child.start_kill();
            format!(
                "the new process (pid {pid}) did not report ready within {:?}; killed it",
                req.timeout
            )
        }
    };
    stop_child(&mut child).await;
    Err(reason)
}

/// Hands the sockets and config to the child; the stream once it is ready.
async fn converse(
    listener: &UnixListener,
    child: &mut Child,
    admin: &Admin,
) -> Result<UnixStream, String> {
    let mut stream = tokio::select! {
        a = listener.accept() => a.map_err(|e| format!("accepting the new process: {e}"))?.0,
        status = child.wait() => return Err(exited(status)),
    };
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .map_err(|e| format!("checking the hand-off peer: {e}"))?;
    if peer.uid != rustix::process::getuid() {
        return Err("the hand-off peer runs as another user".into());
    }
    send(&mut stream, admin).await?;
    let line = tokio::select! {
        l = read_line(&mut stream) => l,
        status = child.wait() => return Err(exited(status)),
    };
    match line.as_deref() {
        Ok("ready") => Ok(stream),
        Ok(l) => Err(l
            .strip_prefix("error: ")
            .map_or_else(|| format!("unexpected reply {l:?}"), |e| e.to_string())),
        Err(e) => {
            let status = child.wait().await;
            Err(format!("{e}; {}", exited(status)))
        }
    }
}

/// Sends every listening socket (servers' and the admin's) and the config.
async fn send(stream: &mut UnixStream, admin: &Admin) -> Result<(), String> {
    let runtime: &Runtime = admin.runtime();
    let mut sockets = runtime.listener_pool().sockets();
    sockets.extend(admin.listener());
    let config = admin.config_json();
    // Duplicates of the descriptors: the listeners belong to their
    // accept loops, which keep running until the new process is ready.
    let fds = sockets
        .iter()
        .map(|s| s.dup_fd().map_err(|e| format!("socket {}: {e}", s.key)))
        .collect::<Result<Vec<_>, String>>()?;
    let outgoing: Vec<Outgoing<'_>> = sockets
        .iter()
        .zip(&fds)
        .map(|(s, fd)| Outgoing {
            key: s.key.clone(),
            kind: s.kind(),
            fd: fd.as_fd(),
        })
        .collect();
    let keys: Vec<&str> = outgoing.iter().map(|o| o.key.as_str()).collect();
    tracing::info!(sockets = ?keys, "upgrade: handing over");
    let (header, list) = wire::encode(&outgoing, config.len()).map_err(|e| e.to_string())?;
    let failed = |e: std::io::Error| format!("handing over the sockets: {e}");
    let sent = stream
        .async_io(tokio::io::Interest::WRITABLE, || {
            wire::send_header(stream.as_fd(), &header, &outgoing)
        })
        .await
        .map_err(failed)?;
    stream.write_all(&header[sent..]).await.map_err(failed)?;
    stream.write_all(&list).await.map_err(failed)?;
    stream.write_all(&config).await.map_err(failed)?;
    Ok(())
}

/// One line from the child (without its newline), at most 64 KiB.
async fn read_line(stream: &mut UnixStream) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte).await {
            Ok(0) => return Err("the new process closed the hand-off socket".into()),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() < 64 << 10 => line.push(byte[0]),
            Ok(_) => return Err("the new process sent an overlong line".into()),
            Err(e) => return Err(format!("reading from the new process: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn exited(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(s) => format!("the new process exited ({s}) before it was ready"),
        Err(e) => format!("waiting for the new process: {e}"),
    }
}

/// Kills the child unless it exits by itself within a moment.
async fn stop_child(child: &mut Child) {
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// The binary to run: where `/proc/self/exe` points now. After a package
/// upgrade replaced the file, the link reads `PATH (deleted)`, and PATH
/// names the new binary.
fn own_binary() -> Result<PathBuf, String> {
    let exe = std::fs::read_link("/proc/self/exe")
        .or_else(|_| std::env::current_exe())
        .map_err(|e| format!("finding bellhop's own binary: {e}"))?;
    let text = exe.to_string_lossy();
    match text.strip_suffix(" (deleted)") {
        Some(p) => Ok(PathBuf::from(p)),
        None => Ok(exe),
    }
}

/// The new process's arguments: ours, without the `--pingback` of
/// `bellhop start` (that conversation is over).
pub fn child_args(argv: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in argv {
        if std::mem::take(&mut skip) {
            continue;
        }
        match a.to_str() {
            Some("--pingback") => skip = true,
            Some(s) if s.starts_with("--pingback=") => {}
            _ => out.push(a.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::child_args;
    use std::ffi::OsString;

    #[test]
    fn child_args_drop_the_pingback_only() {
        let argv: Vec<OsString> = [
            "run",
            "--pingback",
            "127.0.0.1:5",
            "--config",
            "c",
            "--pingback=x",
            "--watch",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let want: Vec<OsString> = ["run", "--config", "c", "--watch"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(child_args(&argv), want);
    }
}
