//! The `redis` storage on a real Redis Cluster (three `redis-server`
//! nodes made into one with `redis-cli --cluster create`) and behind real
//! Sentinels (`redis-server --sentinel` watching a master and its
//! replica): keys spread over the cluster's nodes, listing and locks
//! across slots, and a Sentinel failover the storage follows to the new
//! master.

use crate::support::free_port;
use bellhop_runtime::tls::storage::Storage;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` with extra arguments, killed on drop.
struct Node {
    port: u16,
    child: Child,
}

impl Node {
    fn start(dir: &Path, args: &[&str]) -> Node {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(args)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run `apt-get install -y redis-server`");
        let n = Node { port, child };
        wait(|| n.query(&["PING"]).is_ok(), "redis-server answers");
        n
    }

    fn query(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        let mut c = c.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c)
    }

    fn text(&self, args: &[&str]) -> String {
        redis::from_redis_value(self.query(args).unwrap()).unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(mut ok: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn storage(v: Value) -> Storage {
    Storage::from_config(v.as_object(), "storage").unwrap()
}

#[test]
fn storage_on_a_redis_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let d = dir.path().join(format!("n{i}"));
            std::fs::create_dir(&d).unwrap();
            Node::start(&d, &["--cluster-enabled", "yes"])
        })
        .collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli (Debian's redis-tools, installed with redis-server)");
    assert!(created.status.success(), "{created:?}");
    wait(
        || {
            nodes
                .iter()
                .all(|n| n.text(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        },
        "the cluster is ok",
    );

    // One seed node is enough: the client learns the others.
    let a = storage(json!({"module": "redis", "client_type": "cluster",
        "address": [addrs[0]], "key_prefix": "fleet"}));
    let b = storage(json!({"module": "redis", "address": addrs, "key_prefix": "fleet"}));
    assert!(
        a.describe("x").starts_with("redis+cluster://"),
        "{}",
        a.describe("x")
    );
    let names: Vec<String> = (0..24).map(|i| format!("site{i}.test")).collect();
    for n in &names {
        a.write(
            &format!("certificates/acme/{n}/{n}.crt"),
            n.as_bytes(),
            false,
        )
        .unwrap();
    }
    // The keys live on every node (they hash to slots all over).
    for n in &nodes {
        let size: i64 = redis::from_redis_value(n.query(&["DBSIZE"]).unwrap()).unwrap();
        assert!(size > 0, "node {} holds no key", n.port);
    }
    // Another storage on the same cluster reads and lists them all.
    for n in &names {
        let got = b
            .read_string(&format!("certificates/acme/{n}/{n}.crt"))
            .unwrap();
        assert_eq!(got.as_deref(), Some(n.as_str()));
    }
    assert_eq!(b.try_list("certificates").unwrap().len(), names.len());
    b.delete("certificates/acme/site0.test/site0.test.crt")
        .unwrap();
    assert_eq!(a.try_list("certificates").unwrap().len(), names.len() - 1);
    // Locks exclude across the two storages, then free.
    let name = "issue_cert_site1.test";
    let held = a.lock_blocking(name, Duration::from_secs(2)).unwrap();
    let e = b
        .lock_blocking(name, Duration::from_millis(300))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    drop(held);
    let t = Instant::now();
    drop(b.lock_blocking(name, Duration::from_secs(2)).unwrap());
    assert!(t.elapsed() < Duration::from_millis(500), "freed at once");
}

#[test]
fn storage_behind_sentinels_follows_a_failover() {
    let dir = tempfile::tempdir().unwrap();
    let sub = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let master = Node::start(&sub("master"), &[]);
    let replica = Node::start(
        &sub("replica"),
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    wait(
        || {
            master
                .text(&["INFO", "replication"])
                .contains("connected_slaves:1")
        },
        "the replica is attached",
    );
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "sentinel monitor main 127.0.0.1 {} 1\nsentinel down-after-milliseconds main 1000\nsentinel failover-timeout main 5000\n",
            master.port
        ),
    )
    .unwrap();
    let sentinel = Node::start(&sub("sentinel"), &[conf.to_str().unwrap(), "--sentinel"]);
    wait(
        || {
            sentinel
                .query(&["SENTINEL", "replicas", "main"])
                .is_ok_and(|v| matches!(v, redis::Value::Array(a) if !a.is_empty()))
        },
        "the sentinel knows the replica",
    );

    let s = storage(json!({"module": "redis", "client_type": "failover",
        "address": [format!("127.0.0.1:{}", sentinel.port)], "master_name": "main"}));
    s.write("certificates/a/a.crt", b"one", false).unwrap();
    let on_master: i64 = redis::from_redis_value(
        master
            .query(&["EXISTS", "caddy/certificates/a/a.crt"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(on_master, 1, "the write went to the master");
    // (Replication is asynchronous: a failover before this loses the write.)
    wait(
        || {
            replica
                .query(&["EXISTS", "caddy/certificates/a/a.crt"])
                .is_ok_and(|v| v == redis::Value::Int(1))
        },
        "the replica has the write",
    );

    // The Sentinels promote the replica; the storage's next calls reach it.
    // (Until the Sentinel has the replica's state, it answers NOGOODSLAVE.)
    wait(
        || sentinel.query(&["SENTINEL", "FAILOVER", "main"]).is_ok(),
        "the sentinel starts a failover",
    );
    wait(|| is_master(&replica), "the replica is promoted");
    // Once the old master serves as a replica, the storage's connection
    // to it answers READONLY: the storage asks the Sentinels again.
    wait(|| !is_master(&master), "the old master is demoted");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match s.write("certificates/b/b.crt", b"two", false) {
            Ok(()) => break,
            Err(e) => assert!(
                Instant::now() < deadline,
                "never reached the new master: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let on_new: i64 = redis::from_redis_value(
        replica
            .query(&["EXISTS", "caddy/certificates/b/b.crt"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(on_new, 1, "the write went to the promoted replica");
    assert_eq!(
        s.read_string("certificates/a/a.crt").unwrap().as_deref(),
        Some("one")
    );
}

fn is_master(n: &Node) -> bool {
    match n.query(&["ROLE"]) {
        Ok(redis::Value::Array(a)) => {
            matches!(a.first(), Some(redis::Value::BulkString(b)) if b == b"master")
        }
        _ => false,
    }
}
