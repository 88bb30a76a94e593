//! A real `redis-server` (Debian's package), started by a test on a free
//! loopback port with no persistence, stopped (and startable again on the
//! same port) or frozen at will, killed on drop. Without it the tests
//! fail, saying how to install it. Shared by the runtime's storage tests
//! and the binary's fleet tests.
#![allow(dead_code)]

use crate::support::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub port: u16,
    /// With TLS: its port, and the server's certificate and key files.
    pub tls: Option<(u16, PathBuf, PathBuf)>,
    child: Option<Child>,
}

fn bin() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("redis-server"))
            .find(|f| f.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("redis-server is not installed: run `apt-get install -y redis-server`")
    })
}

impl Redis {
    /// A server on a free port.
    pub fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            tls: None,
            child: None,
        };
        r.resume();
        r
    }

    /// A server also listening with TLS (certificate and key files).
    pub fn start_tls(cert: PathBuf, key: PathBuf) -> Redis {
        let mut r = Redis {
            port: free_port(),
            tls: Some((free_port(), cert, key)),
            child: None,
        };
        r.resume();
        r
    }

    /// Starts the server (again) on its port.
    pub fn resume(&mut self) {
        let mut cmd = Command::new(bin());
        if let Some((port, cert, key)) = &self.tls {
            cmd.args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(cert);
        }
        let child = cmd
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.query(&["PING"]).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its data is lost, as with a crash).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal to the server (`-STOP` freezes it: connections
    /// stay open and go unanswered; `-CONT` thaws it).
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        Command::new("kill")
            .arg(sig)
            .arg(pid.to_string())
            .status()
            .unwrap();
    }

    /// `{"module":"redis","address":[…]}` plus `extra` fields.
    pub fn storage(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut v =
            serde_json::json!({"module": "redis", "address": [format!("127.0.0.1:{}", self.port)]});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    fn conn(&self) -> redis::RedisResult<redis::Connection> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        c.get_connection_with_timeout(Duration::from_secs(2))
    }

    /// One command, its answer as a Redis value.
    pub fn query(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let mut c = self.conn()?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c)
    }

    /// One command whose answer is text (or nothing).
    pub fn text(&self, args: &[&str]) -> Option<String> {
        match self.query(args).unwrap() {
            redis::Value::Nil => None,
            v => Some(redis::from_redis_value(v).unwrap()),
        }
    }

    /// One command whose answer is a list of text.
    pub fn list(&self, args: &[&str]) -> Vec<String> {
        redis::from_redis_value(self.query(args).unwrap()).unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
