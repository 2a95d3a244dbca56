//! The HTTP stack of `hpo ui` / `hpo server`: keep-alive, concurrent requests, size limits, MLflow's
//! error bodies and the graceful shutdown on Ctrl-C, through real sockets and the real binary.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};

use hpo::tracking::Tracker;
use hpo::ui::{UiOptions, UiServer};
use serde_json::{json, Value};

/// One response read off a kept-alive connection.
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Writes `request` on `s` and reads exactly one response (head, then `Content-Length` bytes).
fn exchange(s: &mut TcpStream, request: &[u8]) -> Reply {
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).unwrap();
        assert_eq!(n, 1, "the connection closed before a response head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    Reply { status, head, body }
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

fn post(target: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn store(dir: &tempfile::TempDir) -> (String, Tracker) {
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let tracker = Tracker::open(&uri).unwrap();
    (uri, tracker)
}

#[test]
fn one_connection_serves_many_requests_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tracker) = store(&dir);
    tracker.create_experiment("kept").unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker, UiOptions::default())
        .unwrap()
        .spawn();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    for _ in 0..3 {
        let r = exchange(&mut s, &get("/api/experiments"));
        assert_eq!(r.status, 200);
        assert!(!r.head.to_ascii_lowercase().contains("connection: close"));
        assert!(r.json()["experiments"].to_string().contains("kept"));
    }
    // the MLflow API on the same connection
    let r = exchange(
        &mut s,
        &get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=kept"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["experiment"]["name"], "kept");
    server.stop();
}

#[test]
fn a_slow_request_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tracker) = store(&dir);
    let server = UiServer::bind("127.0.0.1:0", tracker, UiOptions::default())
        .unwrap()
        .spawn();
    let addr = server.addr();
    // a client that sends half a head and waits
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /api/experiments HTTP/1.1\r\nHost: local")
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                (0..10)
                    .map(|_| exchange(&mut s, &get("/api/experiments")).status)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), vec![200; 10]);
    }
    slow.write_all(b"host\r\n\r\n").unwrap();
    assert_eq!(exchange(&mut slow, b"").status, 200);
    drop(slow);
    server.stop();
}

#[test]
fn mlflow_errors_have_mlflow_codes_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tracker) = store(&dir);
    let exp = tracker.create_experiment("e").unwrap();
    let run = tracker.create_run(exp, Some("r"), None).unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    let old_offset_token: String = r#"{"offset":100,"query":"0000000000000000"}"#
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            get(&format!(
                "/api/2.0/mlflow/runs/get?run_id={}",
                "0".repeat(32)
            )),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            get("/api/2.0/mlflow/experiments/get?experiment_id=999"),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            get("/api/2.0/mlflow/no-such/endpoint"),
            404,
            "ENDPOINT_NOT_FOUND",
        ),
        (
            get("/ajax-api/2.0/mlflow/runs/nothing"),
            404,
            "ENDPOINT_NOT_FOUND",
        ),
        (
            post(
                "/api/2.0/mlflow/runs/log-metric",
                &json!({"run_id": run, "key": "m", "value": "high", "timestamp": 1}),
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            post(
                "/api/2.0/mlflow/runs/log-parameter",
                &json!({"run_id": run, "key": 5, "value": "x"}),
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            post(
                "/api/2.0/mlflow/runs/search",
                &json!({"experiment_ids": [exp.to_string()], "filter": "metrics.m >"}),
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        // an offset page token of an earlier version, and a forged one (page tokens hold sort keys)
        (
            post(
                "/api/2.0/mlflow/runs/search",
                &json!({"experiment_ids": [exp.to_string()], "page_token": old_offset_token}),
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            post(
                "/api/2.0/mlflow/runs/search",
                &json!({"experiment_ids": [exp.to_string()], "page_token": "7b7d"}),
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            post("/api/2.0/mlflow/experiments/create", &json!({"name": "e"})),
            400,
            "RESOURCE_ALREADY_EXISTS",
        ),
    ];
    for (request, status, code) in cases {
        let r = exchange(&mut s, &request);
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&request));
        assert_eq!(
            r.json()["error_code"],
            code,
            "{}",
            String::from_utf8_lossy(&request)
        );
        assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // malformed JSON
    let bad = b"POST /api/2.0/mlflow/runs/set-tag HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"run";
    let r = exchange(&mut s, bad);
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    // JSON sent as text/plain (what a cross-site form could send) is refused
    let body = json!({"run_id": run, "key": "k", "value": "v"}).to_string();
    let plain = format!(
        "POST /api/2.0/mlflow/runs/set-tag HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(exchange(&mut s, plain.as_bytes()).status, 400);
    // an oversized body
    let huge = format!(
        "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    );
    let mut big = TcpStream::connect(server.addr()).unwrap();
    assert_eq!(exchange(&mut big, huge.as_bytes()).status, 413);
    // nothing was written
    let stored = tracker.get_run(&run).unwrap();
    assert!(stored.data.metrics.is_empty());
    assert!(stored.data.params.is_empty());
    assert!(stored.data.tag("k").is_none());
    assert_eq!(
        tracker.list_experiments(Default::default()).unwrap().len(),
        2
    );
    server.stop();
}

#[test]
fn read_only_refuses_mlflow_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tracker) = store(&dir);
    let server = UiServer::bind(
        "127.0.0.1:0",
        tracker.clone(),
        UiOptions {
            read_only: true,
            token: None,
        },
    )
    .unwrap()
    .spawn();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    let r = exchange(
        &mut s,
        &post("/api/2.0/mlflow/experiments/create", &json!({"name": "x"})),
    );
    assert_eq!(
        (r.status, r.json()["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let r = exchange(
        &mut s,
        &post("/api/2.0/mlflow/experiments/search", &json!({})),
    );
    assert_eq!(r.status, 200);
    assert!(tracker.get_experiment_by_name("x").unwrap().is_none());
    server.stop();
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn hpo_server(uri: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args([
            "server",
            "--backend-store-uri",
            uri,
            "-h",
            "127.0.0.1",
            "-p",
            "0",
        ])
        .args(extra)
        .env_remove("HPO_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = common::proc::server_url(&mut child);
    let addr = url.trim_start_matches("http://").parse().unwrap();
    Server { child, addr }
}

#[test]
fn ctrl_c_commits_the_queued_writes_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, tracker) = store(&dir);
    let mut server = hpo_server(&uri, &["--workers", "2"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let r = exchange(
        &mut s,
        &post(
            "/api/2.0/mlflow/experiments/create",
            &json!({"name": "sig"}),
        ),
    );
    let exp = r.json()["experiment_id"].as_str().unwrap().to_string();
    let r = exchange(
        &mut s,
        &post(
            "/api/2.0/mlflow/runs/create",
            &json!({"experiment_id": exp}),
        ),
    );
    let run = r.json()["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    for step in 0..200 {
        let r = exchange(
            &mut s,
            &post(
                "/api/2.0/mlflow/runs/log-metric",
                &json!({"run_id": run, "key": "loss", "value": step as f64 / 2.0,
                        "timestamp": 1000 + step, "step": step}),
            ),
        );
        assert_eq!(r.status, 200);
    }
    // SIGINT right after the last answer: the queued points must still reach the file
    unsafe { libc::kill(server.child.id() as i32, libc::SIGINT) };
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let history = tracker.metric_history(&run, "loss").unwrap();
    assert_eq!(history.len(), 200);
    assert_eq!(history[199].value, 99.5);
    assert_eq!(history[199].timestamp, 1199);
    assert!(TcpStream::connect(server.addr).is_err());
}

#[test]
fn server_flags_are_mlflows_and_h_is_the_host() {
    let help = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["server", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--backend-store-uri",
        "--host",
        "-h",
        "--port",
        "-p",
        "--workers",
        "--artifacts-destination",
        "--serve-artifacts",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["server", "--workers", "0", "-p", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--workers"));
}

#[test]
fn mlflow_tracking_uri_is_honoured_and_ours_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (uri, tracker) = store(&dir);
    tracker.create_experiment("from-mlflow-env").unwrap();
    let other = format!("sqlite:///{}", dir.path().join("other.db").display());
    // reading commands never create a store: make the other one
    hpo::tracking::Tracker::open(&other).unwrap();
    let list = |envs: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hpo"));
        cmd.args(["experiments", "list"])
            .current_dir(dir.path())
            .env_remove("HPO_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_URI");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(list(&[("MLFLOW_TRACKING_URI", &uri)]).contains("from-mlflow-env"));
    let both = list(&[("MLFLOW_TRACKING_URI", &uri), ("HPO_TRACKING_URI", &other)]);
    assert!(!both.contains("from-mlflow-env"), "{both}");
}

fn put(target: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "PUT {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[test]
fn the_artifact_proxy_stores_serves_and_refuses_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tracker) = store(&dir);
    let exp = tracker.create_experiment("art").unwrap();
    let run = tracker.create_run(exp, None, None).unwrap();
    let other_exp = tracker.create_experiment("other").unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    let base = format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts");
    // upload, list, download, delete
    let r = exchange(&mut s, &put(&format!("{base}/dir/a.bin"), b"\x00\x01bytes"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let stored = tracker.artifacts(&run).unwrap().read("dir/a.bin").unwrap();
    assert_eq!(stored, b"\x00\x01bytes");
    let r = exchange(
        &mut s,
        &get(&format!(
            "/api/2.0/mlflow-artifacts/artifacts?path={exp}%2F{run}%2Fartifacts%2Fdir"
        )),
    );
    assert_eq!(
        r.json(),
        json!({"files": [{"path": "a.bin", "is_dir": false, "file_size": 7}]})
    );
    let r = exchange(&mut s, &get(&format!("{base}/dir/a.bin")));
    assert_eq!((r.status, r.body.as_slice()), (200, &b"\x00\x01bytes"[..]));
    let r = exchange(
        &mut s,
        &get(&format!(
            "/api/2.0/mlflow/artifacts/list?run_id={run}&path=dir"
        )),
    );
    assert_eq!(r.json()["files"][0]["path"], "dir/a.bin");
    assert_eq!(
        r.json()["root_uri"],
        format!("mlflow-artifacts:/{exp}/{run}/artifacts")
    );
    // paths out of the run's directory are refused, and nothing is written
    for target in [
        format!("{base}/..%2F..%2Fescape.txt"),
        format!("{base}/%2E%2E/%2E%2E/escape.txt"),
        format!("{base}/dir/..%2F..%2F..%2Fescape.txt"),
    ] {
        let r = exchange(&mut s, &put(&target, b"x"));
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(
            r.json()["error_code"],
            "INVALID_PARAMETER_VALUE",
            "{target}"
        );
    }
    let r = exchange(
        &mut s,
        &get(&format!(
            "/api/2.0/mlflow/artifacts/list?run_id={run}&path=..%2F.."
        )),
    );
    assert_eq!(r.status, 400);
    // the run is not in that experiment; an unknown run; a path that is not a run's
    for (target, status) in [
        (
            format!("/api/2.0/mlflow-artifacts/artifacts/{other_exp}/{run}/artifacts/x.txt"),
            404,
        ),
        (
            format!(
                "/api/2.0/mlflow-artifacts/artifacts/{exp}/{}/artifacts/x.txt",
                "0".repeat(32)
            ),
            404,
        ),
        (
            format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/x.txt"),
            404,
        ),
    ] {
        let r = exchange(&mut s, &put(&target, b"x"));
        assert_eq!(r.status, status, "{target}");
        assert_eq!(
            r.json()["error_code"],
            "RESOURCE_DOES_NOT_EXIST",
            "{target}"
        );
    }
    let escaped: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with("escape.txt") || p.ends_with("x.txt"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");
    // delete
    let del = format!("DELETE {base}/dir HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(exchange(&mut s, del.as_bytes()).status, 200);
    assert!(tracker
        .artifacts(&run)
        .unwrap()
        .list("")
        .unwrap()
        .is_empty());
    server.stop();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
