//! The `bellhop` binary and its process model: a port held by another
//! process stops start-up (exit 1) or a reload (HTTP 400, the old config
//! serves on) with a message naming the owner's PID and command line;
//! socket activation (`fd/N`, `fdgram/N` serving HTTP/3, systemd's
//! `LISTEN_FDS`/`LISTEN_FDNAMES`); `sd_notify` messages; a second SIGINT
//! forces exit code 2.

mod common;
#[path = "h3/client.rs"]
mod h3c;

use common::{serve, Proc};

use command_fds::{CommandFdExt, FdMapping};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory (admin socket, configs), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("bh-ports-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `bellhop ARGS` with its own admin socket (named `admin`).
    fn bellhop(&self, admin: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
        c.env("BELLHOP_ADMIN", self.admin(admin))
            .env("XDG_CONFIG_HOME", self.0.join("xdg"))
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null());
        c
    }

    fn admin(&self, name: &str) -> String {
        format!("unix/{}", self.0.join(format!("{name}.sock")).display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What these tests ask of a `bellhop` process besides `common`'s
/// kill-on-drop (which leaves one that already exited alone).
impl Proc {
    fn signal(&self, sig: &str) {
        let pid = self.0.id().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Waits for the exit code (panics after 10 s).
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < deadline, "bellhop did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn json_site(listen: &[String], body: &str) -> String {
    let listen = serde_json::to_string(listen).unwrap();
    format!(
        r#"{{"apps":{{"http":{{"servers":{{"s":{{"listen":{listen},"automatic_https":{{"disable":true}},"routes":[{{"handle":[{{"handler":"static_response","body":"{body}"}}]}}]}}}}}}}}}}"#
    )
}

fn get(addr: SocketAddr) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(resp)
}

/// A foreign process (python3) holding a TCP port: (child, port).
fn foreign_listener() -> (Proc, u16) {
    let script = "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1],flush=True); time.sleep(30)";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc(child), line.trim().parse().unwrap())
}

#[test]
fn start_up_on_a_port_held_by_another_process_exits_1_naming_it() {
    let s = Scratch::new("startup");
    let (python, port) = foreign_listener();
    let config = s.write("c.json", &json_site(&[format!("127.0.0.1:{port}")], "x"));
    let out = s
        .bellhop("a")
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // python3 may be a shim that runs /usr/…/bin/python3.
    let want = format!(
        "listen tcp 127.0.0.1:{port}: address already in use by pid {} (",
        python.0.id()
    );
    assert!(err.contains(&want), "{err}");
    // the program's name, never its arguments (they can hold secrets)
    assert!(err.contains(&format!("{want}python3")), "{err}");
    assert!(err.contains("); stop it or pick another port"), "{err}");
    assert!(!err.contains("import socket"), "{err}");
}

#[test]
fn a_second_bellhop_on_the_same_port_exits_1_naming_the_first() {
    let s = Scratch::new("second");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = s.write(
        "c.json",
        &json_site(&[format!("127.0.0.1:{port}")], "first"),
    );
    let first = serve(s.bellhop("a").args(["run", "--config"]).arg(&config));
    let out = s
        .bellhop("b")
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!("address already in use by pid {} (bellhop);", first.0.id());
    assert!(err.contains(&want), "{err}");
    assert!(!err.contains("run --config"), "{err}");
    assert_eq!(get(([127, 0, 0, 1], port).into()), "first");
}

#[test]
fn a_reload_onto_a_taken_port_is_a_400_and_the_old_config_serves_on() {
    let s = Scratch::new("reload");
    let (python, taken) = foreign_listener();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let old = s.write(
        "old.json",
        &json_site(&[format!("127.0.0.1:{port}")], "old"),
    );
    let _served = serve(s.bellhop("a").args(["run", "--config"]).arg(&old));
    let listen = [format!("127.0.0.1:{port}"), format!("127.0.0.1:{taken}")];
    let new = s.write("new.json", &json_site(&listen, "new"));
    let out = s
        .bellhop("a")
        .args(["reload", "--config"])
        .arg(&new)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(HTTP 400)"), "{err}");
    let want = format!(
        "listen tcp 127.0.0.1:{taken}: address already in use by pid {} (",
        python.0.id()
    );
    assert!(err.contains(&format!("{want}python3")), "{err}");
    assert!(!err.contains("import socket"), "{err}");
    assert_eq!(get(([127, 0, 0, 1], port).into()), "old");
}

#[test]
fn serves_an_inherited_socket_named_by_fd_number() {
    let s = Scratch::new("fd");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let caddyfile = s.write(
        "Caddyfile",
        "http://localhost {\n\tbind fd/{env.TEST_HTTP_FD}\n\trespond \"via fd\"\n}\n",
    );
    let mut cmd = s.bellhop("a");
    cmd.args(["run", "--config"])
        .arg(&caddyfile)
        .env("TEST_HTTP_FD", "3")
        .fd_mappings(vec![FdMapping {
            parent_fd: listener.into(),
            child_fd: 3,
        }])
        .unwrap();
    let mut served = serve(&mut cmd);
    assert_eq!(get(addr), "via fd");
    served.signal("-TERM");
    assert_eq!(served.exit_code(), Some(0));
}

#[test]
fn serves_http3_on_an_inherited_udp_socket_binding_none_of_its_own() {
    let s = Scratch::new("fdgram");
    let ca = h3c::TestCa::new();
    let (cert, key) = ca.leaf();
    s.write("cert.pem", &cert);
    s.write("key.pem", &key);
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tcp_addr, udp_addr) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    let udp_inode = h3c::udp_inodes(Some(udp_addr.port()))[0];
    // As Caddy's `bind fd/3 fdgram/5` case: HTTP/1.1 and 2 on the stream
    // socket, HTTP/3 on the datagram socket.
    let caddyfile = s.write(
        "Caddyfile",
        "{\n\tauto_https disable_redirects\n}\n\nhttps://a.test {\n\tbind fd/{env.TEST_HTTPS_FD} {\n\t\tprotocols h1 h2\n\t}\n\tbind fdgram/{env.TEST_H3_FD} {\n\t\tprotocols h3\n\t}\n\ttls cert.pem key.pem\n\trespond \"hello {http.request.proto}\"\n}\n",
    );
    let mut cmd = s.bellhop("a");
    cmd.args(["run", "--config"])
        .arg(&caddyfile)
        .current_dir(&s.0)
        .env("TEST_HTTPS_FD", "3")
        .env("TEST_H3_FD", "4")
        .fd_mappings(vec![
            FdMapping {
                parent_fd: tcp.into(),
                child_fd: 3,
            },
            FdMapping {
                parent_fd: udp.into(),
                child_fd: 4,
            },
        ])
        .unwrap();
    let mut served = serve(&mut cmd);
    let (status, _, body) = h3c::h3_get(udp_addr, &ca).expect("an HTTP/3 answer");
    assert_eq!((status, body.as_str()), (200, "hello HTTP/3.0"));
    assert_eq!(
        h3c::https_get(tcp_addr, &ca).unwrap(),
        "hello HTTP/1.1",
        "HTTPS on the inherited stream socket"
    );
    // The only UDP socket bellhop holds is the inherited one.
    let all_udp = h3c::udp_inodes(None);
    let held: Vec<u64> = h3c::socket_inodes(served.0.id())
        .into_iter()
        .filter(|i| all_udp.contains(i))
        .collect();
    assert!(
        !held.is_empty() && held.iter().all(|i| *i == udp_inode),
        "UDP sockets held: {held:?}, inherited: {udp_inode}"
    );
    served.signal("-TERM");
    assert_eq!(served.exit_code(), Some(0));
}

#[test]
fn systemd_socket_activation_by_name_and_a_bad_descriptor() {
    let s = Scratch::new("fdname");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = s.write("c.json", &json_site(&["fdname/web".into()], "named"));
    // systemd sets LISTEN_PID to the service's PID; `exec` keeps the
    // shell's.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "LISTEN_PID=$$ exec \"$0\" run --config \"$1\""])
        .arg(env!("CARGO_BIN_EXE_bellhop"))
        .arg(&config)
        .env("BELLHOP_ADMIN", s.admin("a"))
        .env("XDG_CONFIG_HOME", s.0.join("xdg"))
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "web")
        .stdin(Stdio::null())
        .fd_mappings(vec![FdMapping {
            parent_fd: listener.into(),
            child_fd: 3,
        }])
        .unwrap();
    let mut served = serve(&mut cmd);
    assert_eq!(get(addr), "named");
    served.signal("-TERM");
    assert_eq!(served.exit_code(), Some(0));
    // Nothing inherited on descriptor 7: start-up fails, naming it.
    let bad = s.write("bad.json", &json_site(&["fd/7".into()], "x"));
    let out = s
        .bellhop("b")
        .args(["run", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("listen fd/7: descriptor 7 is not a socket this process inherited"),
        "{err}"
    );
}

/// Receives one datagram (within 10 s).
fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification within 10 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn notifies_the_service_manager_ready_reloading_stopping() {
    let s = Scratch::new("notify");
    let path = s.0.join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = [format!("127.0.0.1:{port}")];
    let config = s.write("c.json", &json_site(&listen, "one"));
    let mut served = serve(
        s.bellhop("a")
            .args(["run", "--config"])
            .arg(&config)
            .env("NOTIFY_SOCKET", &path),
    );
    let pid = served.0.id();
    assert_eq!(recv(&sock), format!("READY=1\nMAINPID={pid}"));
    let changed = s.write("c2.json", &json_site(&listen, "two"));
    let out = s
        .bellhop("a")
        .args(["reload", "--config"])
        .arg(&changed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reloading = recv(&sock);
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("{reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    assert_eq!(recv(&sock), "READY=1");
    assert_eq!(get(([127, 0, 0, 1], port).into()), "two");
    served.signal("-TERM");
    assert_eq!(recv(&sock), "STOPPING=1");
    assert_eq!(served.exit_code(), Some(0));
}

#[test]
fn a_second_sigint_during_a_graceful_stop_forces_exit_2() {
    let s = Scratch::new("sigint");
    // A backend that accepts and never answers keeps a request in flight,
    // so the graceful stop (no grace period: wait for ever) cannot end.
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        r#"{{"apps":{{"http":{{"servers":{{"s":{{"listen":["127.0.0.1:{port}"],"automatic_https":{{"disable":true}},"routes":[{{"handle":[{{"handler":"reverse_proxy","upstreams":[{{"dial":"{}"}}]}}]}}]}}}}}}}}}}"#,
        backend.local_addr().unwrap()
    );
    let config = s.write("c.json", &config);
    let mut served = serve(s.bellhop("a").args(["run", "--config"]).arg(&config));
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let _upstream = backend.accept().unwrap();
    served.signal("-INT");
    std::thread::sleep(Duration::from_millis(300));
    assert!(served.0.try_wait().unwrap().is_none(), "still draining");
    served.signal("-INT");
    assert_eq!(served.exit_code(), Some(2));
}
