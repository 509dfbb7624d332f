//! The Valkey source against real valkey-server instances.

mod common;

use std::time::{Duration, Instant};

use common::Valkey;
use slitop::model::{now_ms, Health, Sample, SourceEvent};
use slitop::settings::ValkeyConfig;
use slitop::sources::valkey::{probe, ValkeyPoller};
use slitop::sources::{run_poller, PollSettings, Poller};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn cfg(url: String, streams: &[&str], groups: &[&str]) -> ValkeyConfig {
    let mut c: ValkeyConfig = toml::from_str(&format!("url = {url:?}")).unwrap();
    c.streams = streams.iter().map(|s| s.to_string()).collect();
    c.groups = groups.iter().map(|s| s.to_string()).collect();
    c
}

fn conn(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn cmd(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn value(samples: &[Sample], name: &str, stream: &str, group: Option<&str>) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.labels.name() == Some(name)
                && s.labels.get("stream") == Some(stream)
                && s.labels.get("group") == group
        })
        .map(|s| s.value)
}

async fn poll(p: &mut ValkeyPoller) -> (Vec<Sample>, Vec<SourceEvent>) {
    let evs = p.poll(now_ms()).await.unwrap();
    let samples = evs
        .iter()
        .flat_map(|e| match e {
            SourceEvent::Samples { samples, .. } => samples.clone(),
            _ => vec![],
        })
        .collect();
    (samples, evs)
}

#[tokio::test]
async fn stream_and_group_figures_match_a_scripted_producer_and_consumer() {
    let v = Valkey::start();
    let mut c = conn(&v.url());
    cmd(
        &mut c,
        &["XGROUP", "CREATE", "jobs", "workers", "0", "MKSTREAM"],
    );
    for i in 0..20 {
        cmd(&mut c, &["XADD", "jobs", "*", "n", &i.to_string()]);
    }
    // Consumer c1 takes 8 and acks 5 of them.
    let got: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg(&[
            "GROUP", "workers", "c1", "COUNT", "8", "STREAMS", "jobs", ">",
        ])
        .query(&mut c)
        .unwrap();
    let ids: Vec<String> = got.keys[0].ids.iter().map(|i| i.id.clone()).collect();
    assert_eq!(ids.len(), 8);
    for id in &ids[..5] {
        cmd(&mut c, &["XACK", "jobs", "workers", id]);
    }
    let mut p = ValkeyPoller::new(
        cfg(v.url(), &["jobs"], &["workers"]),
        Duration::from_secs(2),
    )
    .unwrap();
    let (s, _) = poll(&mut p).await;
    assert_eq!(value(&s, "valkey_stream_length", "jobs", None), Some(20.0));
    assert_eq!(
        value(&s, "valkey_stream_entries_added_total", "jobs", None),
        Some(20.0)
    );
    assert_eq!(value(&s, "valkey_stream_groups", "jobs", None), Some(1.0));
    let g = Some("workers");
    assert_eq!(value(&s, "valkey_group_lag", "jobs", g), Some(12.0));
    assert_eq!(value(&s, "valkey_group_lag_known", "jobs", g), Some(1.0));
    assert_eq!(value(&s, "valkey_group_pending", "jobs", g), Some(3.0));
    assert_eq!(
        value(&s, "valkey_group_entries_read_total", "jobs", g),
        Some(8.0)
    );
    assert_eq!(value(&s, "valkey_group_consumers", "jobs", g), Some(1.0));
    assert_eq!(
        value(&s, "valkey_group_consumers_inactive", "jobs", g),
        Some(0.0)
    );
    assert!(s
        .iter()
        .any(|x| x.labels.name() == Some("valkey_connected_clients") && x.value >= 1.0));
    assert!(s
        .iter()
        .any(|x| x.labels.name() == Some("valkey_slowlog_length")));

    // Enqueue and dequeue rates from two polls a known interval apart.
    let t0 = Instant::now();
    let (s0, _) = poll(&mut p).await;
    for i in 0..30 {
        cmd(&mut c, &["XADD", "jobs", "*", "n", &i.to_string()]);
        if i % 2 == 0 {
            cmd(
                &mut c,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "workers",
                    "c2",
                    "COUNT",
                    "1",
                    "STREAMS",
                    "jobs",
                    ">",
                ],
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (s1, _) = poll(&mut p).await;
    let dt = t0.elapsed().as_secs_f64();
    let d = |name: &str, g: Option<&str>| {
        value(&s1, name, "jobs", g).unwrap() - value(&s0, name, "jobs", g).unwrap()
    };
    assert_eq!(d("valkey_stream_entries_added_total", None), 30.0);
    assert_eq!(d("valkey_group_entries_read_total", g), 15.0);
    let (enq, deq) = (30.0 / dt, 15.0 / dt);
    let script_secs = 30.0 * 0.05;
    assert!(
        (enq - 30.0 / script_secs).abs() / (30.0 / script_secs) < 0.35,
        "enqueue {enq}/s"
    );
    assert!(
        (deq - 15.0 / script_secs).abs() / (15.0 / script_secs) < 0.35,
        "dequeue {deq}/s"
    );
    assert_eq!(value(&s1, "valkey_group_consumers", "jobs", g), Some(2.0));
    assert_eq!(value(&s1, "valkey_group_lag", "jobs", g), Some(50.0 - 23.0));

    // XDEL of an undelivered entry makes the lag unknown: no guess, lag_known 0, and a
    // staleness marker ends the lag series so queries stop using the last known value.
    let last: String = redis::cmd("XADD")
        .arg("jobs")
        .arg("*")
        .arg("n")
        .arg("x")
        .query(&mut c)
        .unwrap();
    cmd(&mut c, &["XDEL", "jobs", &last]);
    let (s2, _) = poll(&mut p).await;
    let lag = value(&s2, "valkey_group_lag", "jobs", g).expect("a staleness marker");
    assert!(slitop::model::is_stale_nan(lag), "{lag}");
    assert_eq!(value(&s2, "valkey_group_lag_known", "jobs", g), Some(0.0));
    assert_eq!(
        value(&s2, "valkey_group_pending", "jobs", g),
        Some(3.0 + 15.0)
    );
}

/// Calls of one command since the last CONFIG RESETSTAT.
fn calls(c: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(c).unwrap();
    let key = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

fn near(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: no sample"));
    assert!(
        (got - want).abs() <= 2.0,
        "{what}: {got}, want about {want}"
    );
}

/// Undelivered entries of known age (IDs carry their time), entries pending with a consumer
/// that then stays idle, one that keeps polling, an acknowledged one, and an XDEL'd
/// undelivered entry that makes the lag unknown.
#[tokio::test]
async fn backlog_ages_unknown_lag_and_stuck_consumers() {
    let v = Valkey::start();
    let mut c = conn(&v.url());
    let t = now_ms();
    let id = |ago_ms: i64, seq: u32| format!("{}-{seq}", t - ago_ms);
    let read = |c: &mut redis::Connection, consumer: &str, count: &str| {
        cmd(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "workers",
                consumer,
                "COUNT",
                count,
                "STREAMS",
                "orders",
                ">",
            ],
        )
    };
    cmd(
        &mut c,
        &["XGROUP", "CREATE", "orders", "workers", "0", "MKSTREAM"],
    );
    // Two entries added 60 s ago go to `stuck`, which never acknowledges them.
    cmd(&mut c, &["XADD", "orders", &id(60_000, 1), "n", "a"]);
    cmd(&mut c, &["XADD", "orders", &id(60_000, 2), "n", "b"]);
    read(&mut c, "stuck", "2");
    let stuck_since = Instant::now();
    // `quick` takes one and acknowledges it; `alive` takes one and keeps polling.
    cmd(&mut c, &["XADD", "orders", &id(45_000, 1), "n", "c"]);
    read(&mut c, "quick", "1");
    cmd(&mut c, &["XACK", "orders", "workers", &id(45_000, 1)]);
    cmd(&mut c, &["XADD", "orders", &id(40_000, 1), "n", "g"]);
    read(&mut c, "alive", "1");
    // Three undelivered, the oldest added 30 s ago.
    cmd(&mut c, &["XADD", "orders", &id(30_000, 1), "n", "d"]);
    cmd(&mut c, &["XADD", "orders", &id(30_000, 2), "n", "e"]);
    cmd(&mut c, &["XADD", "orders", &id(20_000, 1), "n", "f"]);

    let mut p = ValkeyPoller::new(
        cfg(v.url(), &["orders"], &["workers"]),
        Duration::from_secs(2),
    )
    .unwrap();
    let g = Some("workers");
    let at = |s: &[Sample], name: &str| value(s, name, "orders", g);
    cmd(&mut c, &["CONFIG", "RESETSTAT"]);
    let (s, evs) = poll(&mut p).await;
    assert!(
        !evs.iter()
            .any(|e| matches!(e, SourceEvent::QueryError { .. })),
        "{evs:?}"
    );
    // Valkey knows the lag: one XRANGE (COUNT 1, for the age) and one XPENDING.
    assert_eq!((calls(&mut c, "xrange"), calls(&mut c, "xpending")), (1, 1));
    assert_eq!(at(&s, "valkey_group_lag_known"), Some(1.0));
    assert_eq!(at(&s, "valkey_group_undelivered"), Some(3.0));
    assert_eq!(at(&s, "valkey_group_undelivered_capped"), Some(0.0));
    assert_eq!(at(&s, "valkey_group_pending"), Some(3.0));
    assert_eq!(at(&s, "valkey_group_backlog"), Some(6.0));
    // XLEN keeps the acknowledged entry too: retention, not backlog.
    assert_eq!(value(&s, "valkey_stream_length", "orders", None), Some(7.0));
    near(
        at(&s, "valkey_group_backlog_age_seconds"),
        30.0,
        "backlog age",
    );
    near(
        at(&s, "valkey_group_pending_age_seconds"),
        60.0,
        "pending age",
    );
    // Four read, three still pending.
    assert_eq!(at(&s, "valkey_group_acked_total"), Some(1.0));
    assert_eq!(at(&s, "valkey_group_consumers_stuck"), Some(0.0));

    // Deleting an undelivered entry makes the lag unknown: the rest are counted instead.
    cmd(&mut c, &["XDEL", "orders", &id(30_000, 1)]);
    cmd(&mut c, &["CONFIG", "RESETSTAT"]);
    let (s, _) = poll(&mut p).await;
    assert_eq!((calls(&mut c, "xrange"), calls(&mut c, "xpending")), (1, 1));
    assert!(slitop::model::is_stale_nan(
        at(&s, "valkey_group_lag").unwrap()
    ));
    assert_eq!(at(&s, "valkey_group_lag_known"), Some(0.0));
    assert_eq!(at(&s, "valkey_group_undelivered"), Some(2.0));
    assert_eq!(at(&s, "valkey_group_undelivered_capped"), Some(0.0));
    assert_eq!(at(&s, "valkey_group_backlog"), Some(5.0));
    near(
        at(&s, "valkey_group_backlog_age_seconds"),
        30.0,
        "backlog age",
    );
    near(
        at(&s, "valkey_group_pending_age_seconds"),
        60.0,
        "pending age",
    );

    // Past 30 s idle, `stuck` is flagged; `alive` holds an entry too but keeps polling
    // (reading its own history resets its idle time), `quick` holds nothing.
    while stuck_since.elapsed() < Duration::from_millis(31_500) {
        cmd(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "workers",
                "alive",
                "STREAMS",
                "orders",
                "0",
            ],
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (s, _) = poll(&mut p).await;
    assert_eq!(at(&s, "valkey_group_consumers_stuck"), Some(1.0));
    let waited = (now_ms() - t) as f64 / 1000.0;
    near(
        at(&s, "valkey_group_backlog_age_seconds"),
        30.0 + waited,
        "backlog age later",
    );
    near(
        at(&s, "valkey_group_pending_age_seconds"),
        60.0 + waited,
        "pending age later",
    );
}

/// More undelivered entries than the direct count reads: it says at least that many.
#[tokio::test]
async fn a_count_that_reaches_its_bound_is_a_lower_bound() {
    let v = Valkey::start();
    let mut c = conn(&v.url());
    cmd(&mut c, &["XGROUP", "CREATE", "bulk", "g", "0", "MKSTREAM"]);
    // IDs the producer chose (not times), so no age can be read from them.
    let mut pipe = redis::pipe();
    for i in 1..=10_002 {
        pipe.cmd("XADD")
            .arg("bulk")
            .arg(format!("1-{i}"))
            .arg("n")
            .arg(i)
            .ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    // A deleted entry inside the undelivered range makes the lag unknown.
    cmd(&mut c, &["XDEL", "bulk", "1-5"]);
    let mut p = ValkeyPoller::new(cfg(v.url(), &["bulk"], &["g"]), Duration::from_secs(5)).unwrap();
    let (s, _) = poll(&mut p).await;
    let at = |name: &str| value(&s, name, "bulk", Some("g"));
    assert_eq!(at("valkey_group_lag_known"), Some(0.0));
    assert_eq!(at("valkey_group_undelivered"), Some(10_000.0));
    assert_eq!(at("valkey_group_undelivered_capped"), Some(1.0));
    assert_eq!(at("valkey_group_backlog"), Some(10_000.0));
    assert_eq!(at("valkey_group_pending_age_seconds"), Some(0.0));
    assert_eq!(
        value(&s, "valkey_stream_length", "bulk", None),
        Some(10_001.0)
    );
}

#[tokio::test]
async fn missing_stream_or_group_is_reported_and_the_rest_still_works() {
    let v = Valkey::start();
    let mut c = conn(&v.url());
    cmd(&mut c, &["XADD", "real", "*", "a", "1"]);
    let mut p = ValkeyPoller::new(
        cfg(v.url(), &["nope", "real"], &["ghosts"]),
        Duration::from_secs(2),
    )
    .unwrap();
    let (s, evs) = poll(&mut p).await;
    let errors: Vec<String> = evs
        .iter()
        .filter_map(|e| match e {
            SourceEvent::QueryError { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("stream `nope` does not exist")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("consumer group `ghosts` does not exist on stream `real`")),
        "{errors:?}"
    );
    assert_eq!(value(&s, "valkey_stream_length", "real", None), Some(1.0));
    let items = probe(
        &cfg(v.url(), &["nope", "real"], &[]),
        Duration::from_secs(2),
    )
    .await;
    assert!(items[0].ok);
    assert!(items.iter().any(|i| i.what == "stream nope" && !i.ok));
    assert!(items.iter().any(|i| i.what == "stream real" && i.ok));
}

#[tokio::test]
async fn wrong_password_says_authentication_failed_and_acl_users_work() {
    let v = Valkey::start_with(&["--requirepass", "right-one"]);
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "wrong-one\n").unwrap();
    let mut c = cfg(v.url(), &[], &[]);
    c.password_file = Some(pw.clone());
    let mut p = ValkeyPoller::new(c.clone(), Duration::from_secs(2)).unwrap();
    let err = format!("{:#}", p.poll(now_ms()).await.unwrap_err());
    assert!(
        err.contains("authentication failed") && err.contains("password"),
        "{err}"
    );
    assert!(!err.contains("wrong-one"), "secret leaked: {err}");
    std::fs::write(&pw, "right-one\n").unwrap();
    let mut p = ValkeyPoller::new(c, Duration::from_secs(2)).unwrap();
    p.poll(now_ms()).await.expect("right password");
    // An ACL user with its own password.
    let mut admin = redis::Client::open(format!("redis://:right-one@127.0.0.1:{}", v.port))
        .unwrap()
        .get_connection()
        .unwrap();
    cmd(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "watcher",
            "on",
            ">watch-pw",
            "~*",
            "+@all",
        ],
    );
    std::fs::write(&pw, "watch-pw").unwrap();
    let mut c = cfg(v.url(), &[], &[]);
    c.username = Some("watcher".into());
    c.password_file = Some(pw);
    let mut p = ValkeyPoller::new(c, Duration::from_secs(2)).unwrap();
    p.poll(now_ms()).await.expect("ACL user");
}

async fn wait_health(
    rx: &mut mpsc::Receiver<SourceEvent>,
    limit: Duration,
    want: &str,
) -> Option<Health> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(SourceEvent::Health { health, .. })) if health.word() == want => {
                return Some(health)
            }
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

fn settings() -> PollSettings {
    PollSettings {
        name: "valkey".into(),
        refresh: Duration::from_millis(200),
        timeout: Duration::from_secs(1),
        backoff_max: Duration::from_millis(400),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goes_down_with_a_reason_and_recovers_by_itself() {
    let mut v = Valkey::start();
    let (tx, mut rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let p = ValkeyPoller::new(cfg(v.url(), &[], &[]), Duration::from_secs(1)).unwrap();
    let task = tokio::spawn(run_poller(p, settings(), tx, cancel.clone()));
    assert!(wait_health(&mut rx, Duration::from_secs(5), "ok")
        .await
        .is_some());
    v.stop();
    let t0 = Instant::now();
    let down = wait_health(&mut rx, Duration::from_secs(5), "down")
        .await
        .expect("down");
    assert!(
        t0.elapsed() < Duration::from_millis(2 * 200 + 1000 + 500),
        "{:?}",
        t0.elapsed()
    );
    let reason = down.reason().unwrap();
    assert!(reason.contains("valkey 127.0.0.1:"), "{reason}");
    v.restart();
    assert!(
        wait_health(&mut rx, Duration::from_secs(10), "ok")
            .await
            .is_some(),
        "no recovery"
    );
    let got = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(e) = rx.recv().await {
            if matches!(e, SourceEvent::Samples { .. }) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true));
    cancel.cancel();
    let _ = task.await;
}

#[tokio::test]
async fn a_server_that_never_answers_is_timed_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(20) {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let p = ValkeyPoller::new(
        cfg(format!("redis://127.0.0.1:{port}"), &[], &[]),
        Duration::from_millis(600),
    )
    .unwrap();
    let mut s = settings();
    s.timeout = Duration::from_millis(600);
    let t0 = Instant::now();
    let task = tokio::spawn(run_poller(p, s, tx, cancel.clone()));
    let down = wait_health(&mut rx, Duration::from_secs(5), "down")
        .await
        .expect("down");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(down.reason().unwrap().contains("timed out"), "{down:?}");
    cancel.cancel();
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_reads_each_stream_from_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for i in 0..3 {
        let conf = dir.path().join(format!("nodes-{i}.conf"));
        nodes.push(Valkey::start_with(&[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            conf.to_str().unwrap(),
            "--dir",
            dir.path().to_str().unwrap(),
        ]));
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let status = std::process::Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("redis-cli (Debian redis-tools) is needed for the cluster test");
    assert!(status.success());
    let ok = common::wait_until(Duration::from_secs(20), || {
        nodes.iter().all(|n| {
            let mut c = conn(&n.url());
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut c)
                .unwrap_or_default();
            info.contains("cluster_state:ok")
        })
    });
    assert!(ok, "cluster never became ok");
    // Keys chosen to land on different nodes; written through a cluster client.
    let streams = ["alpha", "bravo", "charlie", "delta"];
    let cc = redis::cluster::ClusterClient::new(vec![nodes[0].url()]).unwrap();
    let mut w = cc.get_connection().unwrap();
    for (i, s) in streams.iter().enumerate() {
        for _ in 0..=i {
            let _: String = redis::cmd("XADD")
                .arg(*s)
                .arg("*")
                .arg("f")
                .arg("v")
                .query(&mut w)
                .unwrap();
        }
    }
    let owners: std::collections::BTreeSet<u16> = streams
        .iter()
        .map(|s| {
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(*s)
                .query(&mut conn(&nodes[0].url()))
                .unwrap();
            slot / 5462
        })
        .collect();
    assert!(owners.len() >= 2, "test keys all on one node");
    let mut c = cfg(nodes[1].url(), &streams, &[]);
    c.cluster = true;
    let mut p = ValkeyPoller::new(c, Duration::from_secs(2)).unwrap();
    let (s, evs) = poll(&mut p).await;
    assert!(
        !evs.iter()
            .any(|e| matches!(e, SourceEvent::QueryError { .. })),
        "{evs:?}"
    );
    for (i, st) in streams.iter().enumerate() {
        assert_eq!(
            value(&s, "valkey_stream_length", st, None),
            Some((i + 1) as f64),
            "{st}"
        );
    }
    let nodes_seen: std::collections::BTreeSet<_> = s
        .iter()
        .filter(|x| x.labels.name() == Some("valkey_up"))
        .filter_map(|x| x.labels.get("node").map(str::to_string))
        .collect();
    assert_eq!(nodes_seen.len(), 3, "{nodes_seen:?}");
}

/// A TCP proxy to `upstream` that holds every chunk of the server's replies `delay` before
/// passing it on, as a distant server would. Stops with the test process.
fn slow_proxy(upstream: u16, delay: Duration) -> u16 {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = s_in.read(&mut buf) {
                    std::thread::sleep(delay);
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Sixty groups behind 25 ms of latency: one command at a time this was about 125 round
/// trips (3 s, past the 2 s timeout, so the source went down); pipelined it is a few.
#[tokio::test]
async fn many_groups_on_a_distant_server_are_read_within_one_timeout() {
    let v = Valkey::start();
    let mut c = conn(&v.url());
    let groups: Vec<String> = (0..60).map(|i| format!("g{i}")).collect();
    for g in &groups {
        cmd(&mut c, &["XGROUP", "CREATE", "jobs", g, "0", "MKSTREAM"]);
    }
    cmd(&mut c, &["XADD", "jobs", "*", "n", "1"]);
    let port = slow_proxy(v.port, Duration::from_millis(25));
    let url = format!("redis://127.0.0.1:{port}");
    let mut p = ValkeyPoller::new(cfg(url, &["jobs"], &[]), Duration::from_secs(2)).unwrap();
    // The first poll also connects; the second is the steady state.
    for _ in 0..2 {
        let started = Instant::now();
        let polled = tokio::time::timeout(Duration::from_secs(2), p.poll(now_ms())).await;
        let evs = polled
            .unwrap_or_else(|_| panic!("poll took {:?}", started.elapsed()))
            .unwrap();
        let lags = evs
            .iter()
            .flat_map(|e| match e {
                SourceEvent::Samples { samples, .. } => samples.clone(),
                _ => vec![],
            })
            .filter(|s| s.labels.name() == Some("valkey_group_lag"))
            .count();
        assert_eq!(lags, 60);
    }
}
