//! Port ownership: a taken address is an error naming the protocol, the
//! address and the owner (here: this test process, which holds the socket);
//! a failed reload keeps the running config; `SO_REUSEPORT` only when a
//! pool asks for it.

use crate::support::*;
use bellhop_runtime::listeners::{address, bind_udp, BindOptions, Pool};
use bellhop_runtime::Runtime;
use serde_json::json;

fn owner_prefix(proto: &str, addr: std::net::SocketAddr) -> String {
    format!(
        "listen {proto} {addr}: address already in use by pid {} (",
        std::process::id()
    )
}

#[tokio::test]
async fn a_taken_tcp_port_is_an_error_naming_its_owner() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let rt = Runtime::new();
    let config =
        config_with(json!({"listen": [addr.to_string()], "routes": [{"handle": [respond("x")]}]}));
    let e = rt
        .load(config.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&owner_prefix("tcp", addr)), "{e}");
    assert!(e.ends_with("; stop it or pick another port"), "{e}");
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_str().unwrap();
    // the program, by the kernel's (15-byte) name, and no arguments
    let comm = &name[..name.len().min(15)];
    assert!(
        e.contains(&format!("({comm});")),
        "the program is named: {e}"
    );
}

#[tokio::test]
async fn a_reload_onto_a_taken_port_fails_and_the_old_config_serves_on() {
    let srv = start_routes(json!([{"handle": [respond("old")]}]));
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let config = config_with(json!({
        "listen": [srv.addr.to_string(), taken.to_string()],
        "routes": [{"handle": [respond("new")]}]
    }));
    let e = srv
        .rt
        .load(config.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&owner_prefix("tcp", taken)), "{e}");
    assert_eq!(get(srv.addr, "/").await.body, "old");
}

#[tokio::test]
async fn reuse_port_is_opt_in() {
    let addr = &address::parse("127.0.0.1:0").unwrap()[0];
    let shared = BindOptions { reuse_port: true };
    let first = Pool::with_options(shared).obtain(addr).unwrap();
    let port = first.socket.local.unwrap().port();
    let same = &address::parse(&format!("127.0.0.1:{port}")).unwrap()[0];
    // Another pool that opts in joins the port (a second worker)…
    let second = Pool::with_options(shared).obtain(same).unwrap();
    assert_eq!(second.socket.local.unwrap().port(), port);
    // …a default pool does not: it reports the owner.
    let e = Pool::default().obtain(same).err().unwrap().to_string();
    assert!(e.contains("address already in use by pid"), "{e}");
    // Without the option, neither does a pool that opts in later.
    let plain = Pool::default().obtain(addr).unwrap();
    let plain_port = plain.socket.local.unwrap().port();
    let again = &address::parse(&format!("127.0.0.1:{plain_port}")).unwrap()[0];
    assert!(Pool::with_options(shared).obtain(again).is_err());
}

#[test]
fn a_taken_udp_port_is_an_error_naming_its_owner() {
    let holder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let e = bind_udp(addr, &BindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&owner_prefix("udp", addr)), "{e}");
    // A free UDP port binds.
    let free = bind_udp("127.0.0.1:0".parse().unwrap(), &BindOptions::default()).unwrap();
    assert_ne!(free.local_addr().unwrap().port(), 0);
}
