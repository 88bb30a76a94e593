//! A fleet: three `bellhop run` processes sharing one real `redis-server`
//! as storage (`caddy.storage.redis`), ordering from a real ACME server
//! (Debian's `pebble`) whose HTTP-01 validations reach the fleet through a
//! load balancer, so any instance may be asked for another's challenge.
//!
//! - Started together for one name: exactly one order, one certificate in
//!   storage, the same serial served by all three; over several rounds.
//!   A TLS session from one instance resumes on another (session ticket
//!   keys from storage).
//! - `kill -9` of the instance holding the issuance lock: another takes
//!   the lock once it expires and completes; one certificate in storage.
//! - Redis frozen while a renewal falls due: all three keep serving; the
//!   renewal is retried and done (once) when Redis is back.

mod common;

#[path = "../runtime/tests/e2e/dns_responder.rs"]
mod dns_responder;
#[path = "../runtime/tests/e2e/redis_support.rs"]
mod redis_support;
#[path = "fleet/support.rs"]
mod support;

use redis_support::Redis;
use serde_json::json;
use std::time::{Duration, Instant};
use support::*;

/// Three instances' ports, and a balancer in front of their HTTP ports.
fn ports() -> (Vec<(u16, u16)>, u16) {
    let p: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let lb = balancer(p.iter().map(|p| p.0).collect());
    (p, lb)
}

/// Starts the three instances at once.
fn start_fleet(
    s: &Scratch,
    redis: &Redis,
    pebble: &Pebble,
    names: &[&str],
    ports: &[(u16, u16)],
    automation: serde_json::Value,
) -> Vec<Instance> {
    let storage = redis.storage(json!({"timeout": "1"}));
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = format!("i{i}");
            let cfg = config(&name, &storage, pebble, names, *p, automation.clone());
            spawn(s, &name, &cfg, *p)
        })
        .collect()
}

fn logs(s: &Scratch, fleet: &[Instance]) -> String {
    fleet
        .iter()
        .map(|i| format!("--- {}:\n{}", i.name, s.log(&i.name)))
        .collect()
}

/// The certificate files stored for `name`.
fn stored(redis: &Redis, name: &str) -> Vec<String> {
    redis.list(&["KEYS", &format!("caddy/certificates/*/{name}/{name}.crt")])
}

#[test]
fn one_order_per_name_across_the_fleet_and_sessions_resume_anywhere() {
    let s = Scratch::new("rounds");
    let redis = Redis::start();
    let (ports, lb) = ports();
    let pebble = Pebble::start(&s.0, lb, None);
    for round in 0..3 {
        let name = format!("r{round}.fleet.test");
        let before = (pebble.orders(), pebble.issued());
        let fleet = start_fleet(&s, &redis, &pebble, &[&name], &ports, json!({}));
        let got = serials(&fleet, &name, Duration::from_secs(30), |_| true).unwrap_or_else(|e| {
            panic!(
                "round {round}: {e}\n{}\npebble:\n{}",
                logs(&s, &fleet),
                pebble.log()
            )
        });
        assert!(got.iter().all(|g| *g == got[0]), "round {round}: {got:?}");
        std::thread::sleep(Duration::from_millis(500));
        let (orders, issued) = (pebble.orders() - before.0, pebble.issued() - before.1);
        println!("round {round}: {orders} order(s), {issued} certificate(s) issued, serial {} served by all three", got[0]);
        assert_eq!(
            (orders, issued),
            (1, 1),
            "round {round}\n{}",
            logs(&s, &fleet)
        );
        assert_eq!(stored(&redis, &name).len(), 1);
        if round == 2 {
            let client = client();
            let first = get(fleet[0].addr(), &name, &client).unwrap();
            assert!(!first.resumed && first.body == "i0");
            for i in [1, 2, 0] {
                let seen = get(fleet[i].addr(), &name, &client).unwrap();
                assert!(seen.resumed, "a session resumes on i{i}: {seen:?}");
                assert_eq!(seen.body, format!("i{i}"));
            }
            assert!(redis.text(&["GET", "caddy/stek/stek.json"]).is_some());
        }
        fleet.into_iter().for_each(Instance::stop);
    }
}

/// The pid in a lock token (`<pid>-…`).
fn holder(redis: &Redis, lock: &str) -> Option<u32> {
    redis.text(&["GET", lock])?.split('-').next()?.parse().ok()
}

#[test]
fn kill_9_of_the_lock_holder_hands_the_order_to_another_instance() {
    let s = Scratch::new("kill");
    let redis = Redis::start();
    let (ports, lb) = ports();
    let pebble = Pebble::start(&s.0, lb, None);
    let name = "kill.fleet.test";
    let lock = format!("caddy/locks/issue_cert_{name}");
    let mut fleet = start_fleet(&s, &redis, &pebble, &[name], &ports, json!({}));
    let deadline = Instant::now() + Duration::from_secs(20);
    // Killed mid-order: once it holds the lock and pebble has its order.
    let victim = loop {
        if let (Some(pid), 1..) = (holder(&redis, &lock), pebble.orders()) {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "no lock taken\n{}",
            logs(&s, &fleet)
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let at = fleet
        .iter()
        .position(|i| i.pid() == victim)
        .expect("a fleet member holds the lock");
    let dead = fleet.remove(at);
    std::process::Command::new("kill")
        .arg("-KILL")
        .arg(victim.to_string())
        .status()
        .unwrap();
    let killed = Instant::now();
    drop(dead);
    let taker = loop {
        match holder(&redis, &lock) {
            Some(pid) if pid != victim => break pid,
            _ => {}
        }
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "nobody took the lock over\n{}",
            logs(&s, &fleet)
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let takeover = killed.elapsed();
    println!("lock taken over by pid {taker} {takeover:?} after kill -9 of pid {victim}");
    assert!(fleet.iter().any(|i| i.pid() == taker));
    let got = serials(&fleet, name, Duration::from_secs(30), |_| true)
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&s, &fleet)));
    assert_eq!(got[0], got[1]);
    assert_eq!(stored(&redis, name).len(), 1, "one certificate in storage");
    println!(
        "after the kill: {} order(s) at pebble, {} certificate(s) issued",
        pebble.orders(),
        pebble.issued()
    );
    fleet.into_iter().for_each(Instance::stop);
}

#[test]
fn a_redis_outage_keeps_the_fleet_serving_and_the_renewal_waits_for_it() {
    let s = Scratch::new("outage");
    let redis = Redis::start();
    let (ports, lb) = ports();
    // 24-second certificates, due for renewal at half their life.
    let pebble = Pebble::start(&s.0, lb, Some(24));
    let name = "outage.fleet.test";
    let fleet = start_fleet(
        &s,
        &redis,
        &pebble,
        &[name],
        &ports,
        json!({"renew_interval": "1s", "renewal_window_ratio": 0.5}),
    );
    let first = serials(&fleet, name, Duration::from_secs(30), |_| true)
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&s, &fleet)));
    let obtained = Instant::now();
    redis.signal("-STOP");
    // Frozen past the renewal time: every instance keeps serving.
    while obtained.elapsed() < Duration::from_secs(15) {
        for i in &fleet {
            let seen = get(i.addr(), name, &client())
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", i.name, logs(&s, &fleet)));
            assert_eq!(seen.serial, first[0], "nothing renewed while Redis is away");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        logs(&s, &fleet).contains("renewing certificate failed"),
        "{}",
        logs(&s, &fleet)
    );
    redis.signal("-CONT");
    let back = Instant::now();
    let renewed = serials(&fleet, name, Duration::from_secs(20), |serial| {
        serial != first[0]
    })
    .unwrap_or_else(|e| panic!("{e}\n{}\npebble:\n{}", logs(&s, &fleet), pebble.log()));
    // The next renewal is due 12 s after this one: count before it.
    let issued = pebble.issued();
    println!(
        "renewed {:?} after Redis came back; {issued} certificates issued in all",
        back.elapsed()
    );
    assert!(renewed.iter().all(|r| *r == renewed[0]), "{renewed:?}");
    assert_eq!(issued, 2, "one renewal for the fleet\n{}", logs(&s, &fleet));
    fleet.into_iter().for_each(Instance::stop);
}

/// Runs `bellhop storage …`, which must succeed.
fn storage_cmd(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .arg("storage")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bellhop storage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_file_system_storage_moves_to_redis_and_back_without_a_new_order() {
    let s = Scratch::new("move");
    let redis = Redis::start();
    let (ports, lb) = ports();
    let pebble = Pebble::start(&s.0, lb, None);
    let name = "move.fleet.test";
    // One instance on the file system obtains the certificate.
    let fs = json!({"module": "file_system", "root": s.0.join("fs").display().to_string()});
    let cfg = config("solo", &fs, &pebble, &[name], ports[0], json!({}));
    let solo = spawn(&s, "solo", &cfg, ports[0]);
    let first = serials(
        std::slice::from_ref(&solo),
        name,
        Duration::from_secs(30),
        |_| true,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", s.log("solo")));
    solo.stop();
    assert_eq!(pebble.orders(), 1);
    // Exported from the file system, imported into Redis.
    let fs_config = s.0.join("solo.json");
    let archive = s.0.join("storage.tar");
    storage_cmd(&[
        "export",
        "-c",
        fs_config.to_str().unwrap(),
        "-o",
        archive.to_str().unwrap(),
    ]);
    let redis_config = s.0.join("redis.json");
    std::fs::write(
        &redis_config,
        json!({"storage": redis.storage(json!({}))}).to_string(),
    )
    .unwrap();
    let said = storage_cmd(&[
        "import",
        "-c",
        redis_config.to_str().unwrap(),
        "-i",
        archive.to_str().unwrap(),
    ]);
    assert!(said.contains("Successfully imported storage"), "{said}");
    assert_eq!(stored(&redis, name).len(), 1);
    // The fleet on Redis serves it, and orders nothing.
    let fleet = start_fleet(&s, &redis, &pebble, &[name], &ports, json!({}));
    let got = serials(&fleet, name, Duration::from_secs(30), |_| true)
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&s, &fleet)));
    assert!(got.iter().all(|g| *g == first[0]), "{got:?} vs {first:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pebble.orders(), 1, "no new order\n{}", logs(&s, &fleet));
    fleet.into_iter().for_each(Instance::stop);
    // And back: Redis through a pipe into a new file-system storage.
    let back = s.0.join("back");
    let back_config = s.0.join("back.json");
    let back_storage =
        json!({"storage": {"module": "file_system", "root": back.display().to_string()}});
    std::fs::write(&back_config, back_storage.to_string()).unwrap();
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args([
            "storage",
            "export",
            "-c",
            redis_config.to_str().unwrap(),
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert!(export.status.success());
    let mut import = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args([
            "storage",
            "import",
            "-c",
            back_config.to_str().unwrap(),
            "-i",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    import
        .stdin
        .take()
        .unwrap()
        .write_all(&export.stdout)
        .unwrap();
    assert!(import.wait().unwrap().success());
    let crt = |root: &std::path::Path| {
        let dir = root.join("certificates");
        let issuer = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::read(issuer.join(name).join(format!("{name}.crt"))).unwrap()
    };
    assert_eq!(
        crt(&back),
        crt(&s.0.join("fs")),
        "the certificate made the round trip"
    );
}

/// The config the fleet follows: one server on the instance's own port
/// answering `body`, and the Redis loader itself (so each instance keeps
/// following the key), each instance named by its environment.
fn published(redis: &Redis, body: &str, handler: &str) -> String {
    json!({
        "admin": {"config": {"load": {
            "module": "redis",
            "address": [format!("127.0.0.1:{}", redis.port)],
            "key": "fleet/config",
            "instance_id": "{env.FLEET_INSTANCE}"
        }}},
        "apps": {"http": {"servers": {"s": {
            "listen": ["127.0.0.1:{env.FLEET_PORT}"],
            "routes": [{"handle": [{"handler": handler, "body": body}]}]
        }}}}
    })
    .to_string()
}

/// A plain GET of `/` on `port`: the body, if answered.
fn http_body(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut r = String::new();
    c.read_to_string(&mut r).ok()?;
    Some(r.split_once("\r\n\r\n")?.1.to_string())
}

#[test]
fn a_config_set_in_redis_reaches_the_fleet_within_a_second() {
    let s = Scratch::new("config");
    let redis = Redis::start();
    redis
        .query(&[
            "SET",
            "fleet/config",
            &published(&redis, "v1", "static_response"),
        ])
        .unwrap();
    // Each instance starts from a file that only names the loader.
    let bootstrap = json!({"admin": {"config": {"load": {
        "module": "redis", "address": [format!("127.0.0.1:{}", redis.port)],
        "key": "fleet/config", "instance_id": "{env.FLEET_INSTANCE}"
    }}}});
    let file = s.0.join("bootstrap.json");
    std::fs::write(&file, bootstrap.to_string()).unwrap();
    let mut fleet = Vec::new();
    for i in 0..3 {
        let (name, port) = (format!("i{i}"), free_port());
        let log = std::fs::File::create(s.0.join(format!("{name}.log"))).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
            .args(["run", "--config"])
            .arg(&file)
            .env("FLEET_INSTANCE", &name)
            .env("FLEET_PORT", port.to_string())
            .env(
                "BELLHOP_ADMIN",
                format!("unix/{}", s.0.join(format!("{name}.sock")).display()),
            )
            .env("XDG_CONFIG_HOME", s.0.join(format!("xdg-{name}")))
            .env("XDG_DATA_HOME", s.0.join(format!("data-{name}")))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        fleet.push((
            Instance {
                child,
                name,
                https: 0,
            },
            port,
        ));
    }
    let wait_all = |want: &str, limit: Duration| -> Vec<Duration> {
        let t = Instant::now();
        let mut at = vec![None; fleet.len()];
        while at.iter().any(Option::is_none) {
            for (i, (_, port)) in fleet.iter().enumerate() {
                if at[i].is_none() && http_body(*port).as_deref() == Some(want) {
                    at[i] = Some(t.elapsed());
                }
            }
            let who: Vec<&Instance> = fleet.iter().map(|(i, _)| i).collect();
            assert!(
                t.elapsed() < limit,
                "{want} not everywhere after {limit:?}: {at:?}\n{}",
                who.iter().map(|i| s.log(&i.name)).collect::<String>()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        at.into_iter().flatten().collect()
    };
    wait_all("v1", Duration::from_secs(20));
    // A new version: SET, nothing else.
    redis
        .query(&[
            "SET",
            "fleet/config",
            &published(&redis, "v2", "static_response"),
        ])
        .unwrap();
    let took = wait_all("v2", Duration::from_secs(1));
    let (min, max) = (took.iter().min().unwrap(), took.iter().max().unwrap());
    println!("config propagation: {took:?} (spread {:?})", *max - *min);
    // A broken one: every instance stays on v2 and says why.
    redis
        .query(&[
            "SET",
            "fleet/config",
            &published(&redis, "v3", "no_such_handler"),
        ])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let st: Vec<String> = redis.list(&["HGETALL", "fleet/config:status"]);
        let failed = st
            .chunks(2)
            .filter(|kv| kv[1].contains("no_such_handler"))
            .count();
        if failed == 3 {
            break st;
        }
        assert!(Instant::now() < deadline, "status: {st:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let names: Vec<&str> = status.chunks(2).map(|kv| kv[0].as_str()).collect();
    assert_eq!(
        sorted(names.iter().map(|s| s.to_string()).collect()),
        ["i0", "i1", "i2"]
    );
    for (inst, port) in &fleet {
        assert_eq!(
            http_body(*port).as_deref(),
            Some("v2"),
            "{} kept the running config",
            inst.name
        );
        let out = std::process::Command::new("curl")
            .args(["-s", "-H", "Host:", "--unix-socket"])
            .arg(s.0.join(format!("{}.sock", inst.name)))
            .arg("http://localhost/config-loader")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
        assert_eq!(v["instance"], inst.name.as_str(), "{v}");
        assert!(
            v["failed"]["error"]
                .as_str()
                .unwrap()
                .contains("no_such_handler"),
            "{v}"
        );
        assert!(v["applied"]["version"].is_string(), "{v}");
    }
    // Redis down for a while: the fleet serves on; back (empty, as a new
    // server), a new version reaches every instance once each resubscribes.
    let mut redis = redis;
    redis.stop();
    std::thread::sleep(Duration::from_millis(1500));
    for (inst, port) in &fleet {
        assert_eq!(
            http_body(*port).as_deref(),
            Some("v2"),
            "{} serves while Redis is down",
            inst.name
        );
    }
    redis.resume();
    redis
        .query(&[
            "SET",
            "fleet/config",
            &published(&redis, "v4", "static_response"),
        ])
        .unwrap();
    let took = wait_all("v4", Duration::from_secs(10));
    println!(
        "after the outage, v4 everywhere within {:?}",
        took.iter().max().unwrap()
    );
    for (i, _) in fleet {
        i.stop();
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_caddyfile_in_redis_is_adapted_and_followed() {
    let s = Scratch::new("caddyfile");
    let redis = Redis::start();
    let site = |body: &str| format!(":{{$FLEET_PORT}} {{\n\trespond {body}\n}}\n");
    redis
        .query(&["SET", "fleet/caddyfile", &site("c1")])
        .unwrap();
    let bootstrap = json!({"admin": {"config": {"load": {
        "module": "redis", "address": [format!("127.0.0.1:{}", redis.port)],
        "key": "fleet/caddyfile", "adapter": "caddyfile", "instance_id": "solo"
    }}}});
    let file = s.0.join("bootstrap.json");
    std::fs::write(&file, bootstrap.to_string()).unwrap();
    let port = free_port();
    let log = std::fs::File::create(s.0.join("solo.log")).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["run", "--config"])
        .arg(&file)
        .env("FLEET_PORT", port.to_string())
        .env(
            "BELLHOP_ADMIN",
            format!("unix/{}", s.0.join("solo.sock").display()),
        )
        .env("XDG_CONFIG_HOME", s.0.join("xdg"))
        .env("XDG_DATA_HOME", s.0.join("data"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let solo = Instance {
        child,
        name: "solo".into(),
        https: 0,
    };
    let wait = |want: &str| {
        let t = Instant::now();
        while http_body(port).as_deref() != Some(want) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{want}: {}",
                s.log("solo")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait("c1");
    // The adapted Caddyfile names no loader; the loader follows on.
    redis
        .query(&["SET", "fleet/caddyfile", &site("c2")])
        .unwrap();
    wait("c2");
    solo.stop();
}
