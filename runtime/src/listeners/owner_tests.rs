//! Tests of the port owner lookup: table parsing on fixed text, then the
//! lookup against real sockets this test process holds.

use super::*;

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:20FB 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1
   2: garbage
";

const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
";

#[test]
fn parses_ipv4_and_ipv6_rows() {
    let rows = parse_table(TCP);
    assert_eq!(rows.len(), 2, "the garbage row is skipped");
    assert_eq!(rows[0].local, "127.0.0.1:8443".parse().unwrap());
    assert_eq!((rows[0].state, rows[0].inode), (0x0A, 4242));
    let rows = parse_table(TCP6);
    assert_eq!(rows[0].local, "[::1]:8080".parse().unwrap());
    assert_eq!(rows[0].inode, 777);
}

#[test]
fn tcp_matches_only_listening_sockets_and_wildcards() {
    let exact = holders(TCP, Proto::Tcp, "127.0.0.1:8443".parse().unwrap());
    assert_eq!(
        exact,
        vec![(true, 4242)],
        "the connected socket is no owner"
    );
    let wildcard = holders(TCP, Proto::Tcp, "0.0.0.0:8443".parse().unwrap());
    assert_eq!(wildcard, vec![(false, 4242)]);
    assert!(holders(TCP, Proto::Tcp, "10.0.0.1:8443".parse().unwrap()).is_empty());
    assert!(holders(TCP, Proto::Tcp, "127.0.0.1:8444".parse().unwrap()).is_empty());
    // UDP has no LISTEN state: any bound socket holds its address.
    assert_eq!(
        holders(TCP, Proto::Udp, "127.0.0.1:8443".parse().unwrap()).len(),
        2
    );
}

#[test]
fn finds_the_owner_of_a_tcp_listener_in_this_process() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    match find(Proto::Tcp, addr) {
        Owner::Process { pid, comm } => {
            assert_eq!(pid, std::process::id());
            let exe = std::env::current_exe().unwrap();
            let name = exe.file_name().unwrap().to_str().unwrap();
            // the kernel keeps the first 15 bytes of the program name
            assert!(
                !comm.is_empty() && name.starts_with(&comm),
                "{comm:?} names {name}"
            );
        }
        Owner::Hidden => panic!("our own listener on {addr} was not found"),
    }
    // A wildcard bind of the same port collides with it too.
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port());
    assert!(matches!(find(Proto::Tcp, any), Owner::Process { .. }));
}

#[test]
fn finds_the_owner_of_a_udp_socket_but_not_as_tcp() {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    assert_eq!(
        match find(Proto::Udp, addr) {
            Owner::Process { pid, .. } => pid,
            Owner::Hidden => 0,
        },
        std::process::id()
    );
    assert_eq!(find(Proto::Tcp, addr), Owner::Hidden);
}

#[test]
fn message_names_the_owner_or_says_it_is_hidden() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let msg = in_use_message(Proto::Tcp, l.local_addr().unwrap());
    let prefix = format!("address already in use by pid {} (", std::process::id());
    assert!(
        msg.starts_with(&prefix) && msg.ends_with("); stop it or pick another port"),
        "{msg}"
    );
    let hidden = Owner::Hidden.to_string();
    assert_eq!(hidden, "another process (owner not visible)");
    let p = Owner::Process {
        pid: 4242,
        comm: "caddy".into(),
    };
    assert_eq!(p.to_string(), "pid 4242 (caddy)");
}

#[test]
fn the_owner_is_named_by_its_program_never_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("77")).unwrap();
    std::fs::write(dir.path().join("77/comm"), b"redis-server\n").unwrap();
    std::fs::write(
        dir.path().join("77/cmdline"),
        b"redis-server\0--requirepass\0hunter2\0",
    )
    .unwrap();
    assert_eq!(comm(dir.path(), 77), "redis-server");
    assert_eq!(comm(dir.path(), 78), "");
}
