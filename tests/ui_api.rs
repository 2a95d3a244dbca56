//! HTTP tests of `hpo ui`: every API endpoint over a real server on an ephemeral port, with a plain
//! `TcpStream` client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use hpo::tracking::{Recorder, Tracker};
use hpo::ui::{RunningServer, UiOptions, UiServer};
use hpo::{hp, with_context, Fmin, Params, Space, TrialContext};
use serde_json::{json, Value};

const XSS: &str = "<script>alert(1)</script>";

struct Fixture {
    dir: tempfile::TempDir,
    tracker: Tracker,
    experiment_id: i64,
    study_run: String,
    trial_runs: Vec<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let recorder = Recorder::new(&tracker, "ui-test")
        .unwrap()
        .study_name("s1")
        .metric("loss");
    let handle = recorder.handle();
    let artifact = dir.path().join("weights.txt");
    std::fs::write(&artifact, "weights").unwrap();
    let space = Space::from_params([hp::uniform("x", -2.0, 2.0)]).unwrap();
    Fmin::new(
        with_context(|p: &Params, ctx: &TrialContext| -> Result<f64, String> {
            for step in 0..3 {
                ctx.log_metric("val", 1.0 / (step + 1) as f64, step);
            }
            ctx.set_tag("note", XSS);
            ctx.log_artifact(&artifact, "model");
            let x = p.f64("x").map_err(|e| e.to_string())?;
            Ok(x * x)
        }),
        &space,
    )
    .max_evals(5)
    .seed(3)
    .observer(recorder)
    .run()
    .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let study_run = handle.study_run_id().unwrap();
    let trial_runs = (0..5).map(|n| handle.trial_run_id(n).unwrap()).collect();
    let experiment_id = tracker
        .get_experiment_by_name("ui-test")
        .unwrap()
        .unwrap()
        .experiment_id;
    Fixture {
        dir,
        tracker,
        experiment_id,
        study_run,
        trial_runs,
    }
}

fn start(f: &Fixture, read_only: bool) -> RunningServer {
    UiServer::bind(
        "127.0.0.1:0",
        f.tracker.clone(),
        UiOptions {
            read_only,
            token: None,
        },
    )
    .unwrap()
    .spawn()
}

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends one request and reads one response: the head, then `Content-Length` bytes (the server keeps
/// the connection alive, so the end of the stream does not mark the end of the response).
fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed before a response head");
        out.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(out[..end].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().unwrap())
    });
    let mut body = out[end + 4..].to_vec();
    match length {
        Some(length) => {
            while body.len() < length {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "the connection closed inside the body");
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
        }
        None => {
            s.read_to_end(&mut body).unwrap();
        }
    }
    Reply {
        status,
        headers: head,
        body,
    }
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
    )
}

fn post(addr: SocketAddr, target: &str, token: Option<&str>, body: &Value) -> Reply {
    let body = body.to_string();
    let token = token
        .map(|t| format!("X-HPO-Token: {t}\r\n"))
        .unwrap_or_default();
    raw(
        addr,
        format!(
            "POST {target} HTTP/1.1\r\nHost: localhost\r\n{token}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

#[test]
fn read_endpoints_answer_with_the_documented_shapes() {
    let f = fixture();
    let server = start(&f, false);
    let addr = server.addr();

    let r = get(addr, "/api/experiments");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let exps = r.json();
    let e = exps["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ui-test")
        .unwrap()
        .clone();
    assert_eq!(e["experiment_id"], f.experiment_id);
    assert_eq!(e["run_count"], 6);
    assert_eq!(e["main_metric"], "loss");
    assert!(e["best_value"].as_f64().unwrap() >= 0.0);
    assert!(e["last_update_time"].is_i64());

    let r = get(addr, &format!("/api/experiments/{}/runs", f.experiment_id));
    assert_eq!(r.status, 200);
    let page = r.json();
    let runs = page["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    assert!(page["next_page_token"].is_null());
    let trial = runs
        .iter()
        .find(|r| r["info"]["run_id"] == f.trial_runs[0].as_str())
        .unwrap();
    assert_eq!(trial["info"]["parent_run_id"], f.study_run.as_str());
    assert_eq!(trial["info"]["status"], "FINISHED");
    assert!(trial["data"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["key"] == "x"));
    let val = trial["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "val")
        .unwrap();
    assert_eq!(val["min"].as_f64().unwrap(), 1.0 / 3.0);
    assert_eq!(val["max"].as_f64().unwrap(), 1.0);
    assert_eq!(val["latest"].as_f64().unwrap(), 1.0 / 3.0);
    // The tag comes back as the raw string: escaping is the page's job.
    assert!(trial["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == "note" && t["value"] == XSS));

    let study = runs
        .iter()
        .find(|r| r["info"]["run_id"] == f.study_run.as_str())
        .unwrap();
    assert_eq!(study["child_count"], 5);
    assert_eq!(trial["child_count"], 0);

    // top-level runs only, and one run's children, combined with a filter
    let exp = f.experiment_id;
    let top = get(addr, &format!("/api/experiments/{exp}/runs?parent=none")).json();
    assert_eq!(top["runs"].as_array().unwrap().len(), 1);
    assert_eq!(top["runs"][0]["info"]["run_id"], f.study_run.as_str());
    let kids = get(
        addr,
        &format!("/api/experiments/{exp}/runs?parent={}", f.study_run),
    )
    .json();
    assert_eq!(kids["runs"].as_array().unwrap().len(), 5);
    let some = get(
        addr,
        &format!(
            "/api/experiments/{exp}/runs?parent={}&filter=metrics.loss+%3E%3D+0+OR+metrics.loss+%3C+0",
            f.study_run
        ),
    );
    assert_eq!(some.status, 200, "{}", some.text());
    assert_eq!(some.json()["runs"].as_array().unwrap().len(), 5);
    let bad = get(
        addr,
        &format!("/api/experiments/{exp}/runs?parent=none&filter=metrics.loss+%3E%3E+1"),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["column"], 15);
    assert_eq!(
        get(addr, &format!("/api/experiments/{exp}/runs?parent=x'")).status,
        400
    );

    // filter, order, paging
    let target = format!(
        "/api/experiments/{}/runs?filter=tags.%60hpo.runType%60+%3D+%27trial%27&order_by=metrics.loss+ASC&max_results=2",
        f.experiment_id
    );
    let page = get(addr, &target).json();
    assert_eq!(page["runs"].as_array().unwrap().len(), 2);
    let l0 = page["runs"][0]["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "loss")
        .unwrap()["latest"]
        .as_f64()
        .unwrap();
    let l1 = page["runs"][1]["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "loss")
        .unwrap()["latest"]
        .as_f64()
        .unwrap();
    assert!(l0 <= l1);
    let token = page["next_page_token"].as_str().unwrap().to_string();
    let mut seen = 2;
    let mut next = Some(token);
    while let Some(t) = next {
        let p = get(
            addr,
            &format!(
                "{target}&page_token={}",
                t.replace('%', "%25")
                    .replace('+', "%2B")
                    .replace('&', "%26")
                    .replace('=', "%3D")
            ),
        );
        assert_eq!(p.status, 200, "{}", p.text());
        let p = p.json();
        seen += p["runs"].as_array().unwrap().len();
        next = p["next_page_token"].as_str().map(str::to_string);
    }
    assert_eq!(seen, 5);

    let r = get(addr, &format!("/api/runs/{}", f.study_run));
    assert_eq!(r.status, 200);
    let run = r.json();
    assert_eq!(run["run"]["info"]["run_id"], f.study_run.as_str());
    let mut children: Vec<String> = run["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    children.sort();
    let mut expected = f.trial_runs.clone();
    expected.sort();
    assert_eq!(children, expected);

    let r = get(addr, &format!("/api/runs/{}/metrics/val", f.trial_runs[1]));
    assert_eq!(r.status, 200);
    let h = r.json();
    assert_eq!(h["key"], "val");
    let steps: Vec<i64> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [0, 1, 2]);
    assert_eq!(
        get(addr, &format!("/api/runs/{}/metrics/nope", f.trial_runs[1])).status,
        404
    );

    let r = get(addr, &format!("/api/runs/{}/artifacts", f.trial_runs[0]));
    assert_eq!(r.status, 200);
    let l = r.json();
    assert_eq!(l["files"][0]["path"], "model");
    assert_eq!(l["files"][0]["is_dir"], true);
    let l = get(
        addr,
        &format!("/api/runs/{}/artifacts?path=model", f.trial_runs[0]),
    )
    .json();
    assert_eq!(l["files"][0]["path"], "model/weights.txt");
    assert_eq!(l["files"][0]["file_size"], 7);
    let r = get(
        addr,
        &format!(
            "/api/runs/{}/artifact?path=model%2Fweights.txt",
            f.trial_runs[0]
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"weights");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("sandbox"));
    // a study run without artifacts lists nothing
    let r = get(addr, &format!("/api/runs/{}/artifacts", f.study_run));
    assert_eq!(r.status, 200, "{}", r.text());

    let r = get(addr, "/api/models");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["models"], json!([]));
    assert_eq!(get(addr, "/api/models/nope").status, 404);
    server.stop();
}

#[test]
fn user_errors_are_4xx_json() {
    let f = fixture();
    let server = start(&f, false);
    let addr = server.addr();
    let exp = f.experiment_id;

    let r = get(
        addr,
        &format!("/api/experiments/{exp}/runs?filter=metrics.loss+%3E%3E+1"),
    );
    assert_eq!(r.status, 400);
    let e = r.json();
    assert!(e["error"].as_str().unwrap().contains("column"), "{e}");
    assert_eq!(e["column"], 15);
    assert_eq!(e["clause"], "filter");

    for (target, status) in [
        (
            "/api/runs/0123456789abcdef0123456789abcdef".to_string(),
            404,
        ),
        ("/api/runs/not-a-run".to_string(), 404),
        ("/api/runs/%00%01".to_string(), 404),
        ("/api/experiments/999/runs".to_string(), 404),
        ("/api/experiments/abc/runs".to_string(), 400),
        (format!("/api/experiments/{exp}/runs?max_results=x"), 400),
        (format!("/api/experiments/{exp}/runs?max_results=0"), 400),
        (
            format!("/api/experiments/{exp}/runs?page_token=garbage"),
            400,
        ),
        (
            format!("/api/experiments/{exp}/runs?order_by=nonsense+%3D"),
            400,
        ),
        (format!("/api/experiments/{exp}/runs?view=weird"), 400),
        ("/api/nothing".to_string(), 404),
        ("/nothing".to_string(), 404),
        (format!("/api/runs/{}/artifact", f.trial_runs[0]), 400),
        (
            format!("/api/runs/{}/artifact?path=model", f.trial_runs[0]),
            404,
        ),
        (
            format!("/api/runs/{}/artifact?path=nope.txt", f.trial_runs[0]),
            404,
        ),
    ] {
        let r = get(addr, &target);
        assert_eq!(r.status, status, "{target}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{target}");
    }

    // traversal never serves the file
    for path in [
        "../../etc/passwd",
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/etc/passwd",
        "model/../../../../../../etc/passwd",
    ] {
        for endpoint in ["artifact", "artifacts"] {
            let r = get(
                addr,
                &format!("/api/runs/{}/{endpoint}?path={path}", f.trial_runs[0]),
            );
            assert!(
                r.status == 400 || r.status == 404,
                "{endpoint} {path}: {}",
                r.status
            );
            assert!(!r.text().contains("root:"), "{path}");
        }
    }

    // malformed and oversized requests
    assert_eq!(raw(addr, b"NONSENSE\r\n\r\n").status, 400);
    assert_eq!(raw(addr, b"GET /%zz HTTP/1.1\r\n\r\n").status, 400);
    // hyper refuses a request line of another HTTP version with 400 (the hand-written server said 505)
    let r = raw(addr, b"GET / HTTP/2.0\r\n\r\n").status;
    assert!(r == 400 || r == 505, "{r}");
    let big = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000));
    assert_eq!(raw(addr, big.as_bytes()).status, 413);
    let r = raw(
        addr,
        b"POST /api/runs/x/delete HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    assert_eq!(
        raw(addr, b"DELETE /api/experiments HTTP/1.1\r\n\r\n").status,
        405
    );
    // DNS rebinding: a loopback server answers only requests addressed to a loopback host
    let r = raw(
        addr,
        b"GET /api/experiments HTTP/1.1\r\nHost: evil.example:5000\r\n\r\n",
    );
    assert_eq!(r.status, 421);
    assert!(!r.text().contains("ui-test"));
    let r = raw(
        addr,
        format!("GET /api/experiments HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 200);
    // the server is still alive
    assert_eq!(get(addr, "/api/experiments").status, 200);
    server.stop();
}

#[test]
fn pages_are_embedded_and_hold_no_user_data() {
    let f = fixture();
    let server = start(&f, false);
    let addr = server.addr();
    let r = get(addr, "/");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = r.text();
    assert!(html.contains(server.token()));
    assert!(html.contains("/app.js") && html.contains("/style.css"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("ui-test") && !html.contains(&f.study_run));
    assert!(html.contains("/compare.js"));
    for script in ["/app.js", "/compare.js"] {
        let js = get(addr, script);
        assert_eq!(js.status, 200);
        assert!(js
            .header("content-type")
            .unwrap()
            .starts_with("text/javascript"));
        // The SVG namespace is a name, not a fetch; nothing else may point off the server.
        let js = js.text().replace("'http://www.w3.org/2000/svg'", "");
        assert!(!js.contains("innerHTML"), "{script} must not use innerHTML");
        assert!(!js.contains("outerHTML") && !js.contains("insertAdjacentHTML"));
        assert!(!js.contains("eval(") && !js.contains("document.write"));
        assert!(!js.contains("http://") && !js.contains("https://"));
    }
    let css = get(addr, "/style.css");
    assert_eq!(css.status, 200);
    assert!(!css.text().contains("@import"));
    server.stop();
}

#[test]
fn actions_need_the_token_and_are_refused_when_read_only() {
    let f = fixture();
    let run = f.trial_runs[0].clone();

    let ro = start(&f, true);
    let r = post(
        ro.addr(),
        &format!("/api/runs/{run}/delete"),
        Some(ro.token()),
        &json!({}),
    );
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("read-only"));
    let r = post(
        ro.addr(),
        "/api/models/m/versions",
        Some(ro.token()),
        &json!({"run_id": run, "artifact_path": "model"}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(get(ro.addr(), "/api/models").json()["models"], json!([]));
    ro.stop();

    let server = start(&f, false);
    let addr = server.addr();
    let token = server.token().to_string();
    let body = json!({"run_id": run, "artifact_path": "model"});
    assert_eq!(
        post(addr, "/api/models/m/versions", None, &body).status,
        403
    );
    assert_eq!(
        post(addr, "/api/models/m/versions", Some("wrong"), &body).status,
        403
    );
    assert_eq!(get(addr, "/api/models/m").status, 404);

    let r = post(addr, "/api/models/m/versions", Some(&token), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model_version"]["version"], 1);
    let r = post(addr, "/api/models/m/versions", Some(&token), &body);
    assert_eq!(r.json()["model_version"]["version"], 2);
    let models = get(addr, "/api/models").json();
    assert_eq!(models["models"][0]["name"], "m");

    let r = post(
        addr,
        "/api/models/m/aliases/champion",
        Some(&token),
        &json!({"version": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        addr,
        "/api/models/m/versions/2/stage",
        Some(&token),
        &json!({"stage": "Production"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let m = get(addr, "/api/models/m");
    assert_eq!(m.status, 200);
    let m = m.json();
    assert_eq!(m["model"]["name"], "m");
    assert_eq!(m["model"]["aliases"][0]["alias"], "champion");
    let versions = m["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], 2);
    assert_eq!(versions[0]["current_stage"], "Production");
    assert_eq!(versions[1]["aliases"], json!(["champion"]));
    assert_eq!(versions[1]["run_id"], run.as_str());

    // bad action input
    for (target, body, status) in [
        ("/api/models/m/versions", json!({}), 400),
        ("/api/models/m/versions", json!({"run_id": "../x"}), 400),
        (
            "/api/models/m/versions",
            json!({"run_id": "0123456789abcdef0123456789abcdef"}),
            404,
        ),
        (
            "/api/models/m/aliases/champion",
            json!({"version": "x"}),
            400,
        ),
        ("/api/models/m/aliases/champion", json!({"version": 9}), 404),
        ("/api/models/m/aliases/latest", json!({"version": 1}), 400),
        (
            "/api/models/m/versions/1/stage",
            json!({"stage": "Nope"}),
            400,
        ),
        ("/api/models/nope/aliases/a", json!({"version": 1}), 404),
        ("/api/runs/nope/delete", json!({}), 404),
        ("/api/runs/x/explode", json!({}), 404),
    ] {
        let r = post(addr, target, Some(&token), &body);
        assert_eq!(r.status, status, "{target} {body}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    // an artifact path the run does not have: 400 listing the run's paths, no version made
    let r = post(
        addr,
        "/api/models/m/versions",
        Some(&token),
        &json!({"run_id": run, "artifact_path": "models_mlflow"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("no artifact 'models_mlflow'") && error.contains("model/"),
        "{error}"
    );
    let versions = get(addr, "/api/models/m").json()["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let r = raw(
        addr,
        format!(
            "POST /api/runs/{run}/delete HTTP/1.1\r\nX-HPO-Token: {token}\r\nContent-Length: 3\r\n\r\n{{{{x"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 400);

    // delete and restore, visible in the runs list
    let exp = f.experiment_id;
    let r = post(
        addr,
        &format!("/api/runs/{run}/delete"),
        Some(&token),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["run"]["info"]["lifecycle_stage"], "deleted");
    let active = get(addr, &format!("/api/experiments/{exp}/runs")).json();
    assert_eq!(active["runs"].as_array().unwrap().len(), 5);
    let exps = get(addr, "/api/experiments").json();
    let e = exps["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["experiment_id"] == exp)
        .unwrap()
        .clone();
    assert_eq!(e["run_count"], 5);
    let study = get(addr, &format!("/api/runs/{}", f.study_run)).json();
    assert_eq!(study["children"].as_array().unwrap().len(), 4);
    let deleted = get(addr, &format!("/api/experiments/{exp}/runs?view=deleted")).json();
    assert_eq!(deleted["runs"][0]["info"]["run_id"], run.as_str());
    let r = post(
        addr,
        &format!("/api/runs/{run}/restore"),
        Some(&token),
        &json!({}),
    );
    assert_eq!(r.status, 200);
    let active = get(addr, &format!("/api/experiments/{exp}/runs")).json();
    assert_eq!(active["runs"].as_array().unwrap().len(), 6);
    server.stop();
}

#[test]
fn many_concurrent_clients_are_served_and_stop_joins() {
    let f = fixture();
    let server = start(&f, false);
    let addr = server.addr();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..5 {
                    assert_eq!(get(addr, "/api/experiments").status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    server.stop();
    assert!(TcpStream::connect(addr).is_err() || get_fails(addr));
}

fn get_fails(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return true;
    };
    let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n");
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .map(|_| out.is_empty())
        .unwrap_or(true)
}

/// Timings over a study of 10,000 trials, for the README: `cargo test --release --test ui_api -- --ignored
/// --nocapture speed`.
#[test]
#[ignore]
fn speed_of_a_study_with_10000_trials() {
    use hpo::tracking::{Metric, NewRun, Param, RunStatus};
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let exp = tracker.create_experiment("big").unwrap();
    let study = tracker.create_run(exp, Some("study"), None).unwrap();
    let t = Instant::now();
    for i in 0..10_000 {
        let info = tracker
            .create_run_with(NewRun {
                experiment_id: exp,
                run_name: Some(format!("trial-{i}")),
                parent_run_id: Some(study.clone()),
                params: vec![
                    Param::new("x", format!("{}", (i as f64 * 0.37).sin())),
                    Param::new("y", format!("{}", i % 17)),
                ],
                ..NewRun::default()
            })
            .unwrap();
        let loss = ((i as f64) * 0.123).cos().abs();
        tracker
            .finish_run(
                &info.run_id,
                &[Metric::new("loss", loss, 0)],
                &[],
                RunStatus::Finished,
                None,
            )
            .unwrap();
    }
    eprintln!("filled in {:.1} s", t.elapsed().as_secs_f64());
    let study_target = format!("/api/runs/{study}");
    let server = UiServer::bind("127.0.0.1:0", tracker, UiOptions::default())
        .unwrap()
        .spawn();
    let addr = server.addr();
    for (what, target) in [
        ("experiments list", "/api/experiments".to_string()),
        ("first page of 100", format!("/api/experiments/{exp}/runs")),
        (
            "sorted by metric, 100",
            format!("/api/experiments/{exp}/runs?order_by=metrics.loss+DESC"),
        ),
        (
            "sorted by param, 100",
            format!("/api/experiments/{exp}/runs?order_by=params.x"),
        ),
        (
            "filtered, 100",
            format!("/api/experiments/{exp}/runs?filter=metrics.loss+%3C+0.1"),
        ),
        ("study run with 10,000 children", study_target),
        (
            "top-level runs",
            format!("/api/experiments/{exp}/runs?parent=none"),
        ),
        (
            "a study's trials sorted by metric, 100",
            format!("/api/experiments/{exp}/runs?parent={study}&order_by=metrics.loss"),
        ),
        (
            "all 10,001 sorted",
            format!("/api/experiments/{exp}/runs?order_by=metrics.loss&max_results=20000"),
        ),
    ] {
        let t = Instant::now();
        let r = get(addr, &target);
        assert_eq!(r.status, 200, "{}", r.text());
        eprintln!(
            "{what}: {:.0} ms, {} KiB",
            t.elapsed().as_secs_f64() * 1000.0,
            r.body.len() / 1024
        );
    }
    server.stop();
}

#[test]
fn the_hpo_ui_command_prints_its_url_and_warns_off_loopback() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let f = fixture();
    let db = f.dir.path().join("hpo.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["--tracking-uri"])
        .arg(format!("sqlite:///{}", db.display()))
        .args(["ui", "--host", "0.0.0.0", "--port", "0", "--read-only"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut warning = String::new();
    stderr.read_line(&mut warning).unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let result = std::panic::catch_unwind(|| {
        assert!(warning.starts_with("warning:"), "{warning}");
        assert!(line.contains("read-only"), "{line}");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap();
        let port: u16 = url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let r = get(addr, "/api/experiments");
        assert_eq!(r.status, 200);
        assert!(r.text().contains("ui-test"));
        let r = post(addr, "/api/runs/x/delete", Some("t"), &json!({}));
        assert_eq!(r.status, 403);
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn importance_endpoint_scores_the_params_of_a_study() {
    let f = fixture();
    let server = start(&f, true);
    let addr = server.addr();

    // the fixture's 5 trials are too few: no scores, a note
    let r = get(addr, &format!("/api/runs/{}/importance", f.study_run));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["metric"], "loss");
    assert_eq!(v["importance"], json!([]));
    assert!(v["note"].as_str().unwrap().contains("5 so far"), "{v}");
    let space = Space::from_params([hp::uniform("x", -2.0, 2.0)]).unwrap();
    let study = record_study(&f.tracker, "ui-test", &space, 12);
    let r = get(addr, &format!("/api/runs/{study}/importance"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["note"], Value::Null);
    let imp = v["importance"].as_array().unwrap();
    assert_eq!(imp.len(), 1, "{v}");
    assert_eq!(imp[0]["param"], "x");
    let value = imp[0]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&value), "{v}");

    // a run without children has nothing to score
    let r = get(addr, &format!("/api/runs/{}/importance", f.trial_runs[0]));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["importance"], json!([]));

    let r = get(
        addr,
        "/api/runs/0123456789abcdef0123456789abcdef/importance",
    );
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
    let r = get(addr, "/api/runs/not-a-run/importance");
    assert!(r.status == 404 || r.status == 400, "{}", r.status);
    server.stop();
}

#[test]
fn compare_endpoint_serves_a_study_or_picked_runs_with_their_axes() {
    use hpo::tracking::{Metric, NewRun, Param, RunStatus};
    let f = fixture();
    // two hand-made runs beside the study: a categorical param with markup, a wide positive one
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 60_000;
    let mut picked = Vec::new();
    for (i, (kind, lr)) in [(XSS, "0.00001"), ("b", "0.1")].iter().enumerate() {
        let info = f
            .tracker
            .create_run_with(NewRun {
                experiment_id: f.experiment_id,
                run_name: Some(format!("picked-{i}")),
                // later than the study's trials, one second apart: a definite start-time order
                start_time: Some(later + 1000 * i as i64),
                params: vec![Param::new("kind", *kind), Param::new("lr", *lr)],
                ..NewRun::default()
            })
            .unwrap();
        f.tracker
            .finish_run(
                &info.run_id,
                &[Metric::new("loss", i as f64, 0)],
                &[],
                RunStatus::Finished,
                None,
            )
            .unwrap();
        picked.push(info.run_id);
    }
    let server = start(&f, true);
    let addr = server.addr();

    let r = get(addr, &format!("/api/compare?study={}", f.study_run));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["metric"], "loss");
    assert_eq!(v["total"], 5);
    assert_eq!(v["study"]["run_id"], json!(f.study_run));
    assert_eq!(v["study"]["experiment_id"], json!(f.experiment_id));
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 5, "{v}");
    for (n, t) in trials.iter().enumerate() {
        assert_eq!(t["number"], json!(n));
        assert_eq!(t["run_id"], json!(f.trial_runs[n]));
        assert!(t["value"].is_f64() && t["params"]["x"].is_string(), "{t}");
    }
    assert_eq!(
        v["params"],
        json!([{"key": "x", "kind": "numeric", "log": false, "distribution": "uniform", "categories": []}])
    );
    assert_eq!(v["importance"], json!([]), "5 trials are too few");
    assert!(v["importance_note"]
        .as_str()
        .unwrap()
        .contains("at least 10"));

    // picked runs, in any order, some twice: the trials of the study and the two hand-made runs
    let list = format!(
        "{},{},{},{}",
        picked[1], f.trial_runs[2], picked[0], picked[1]
    );
    let r = get(addr, &format!("/api/compare?runs={list}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["total"], 3);
    assert_eq!(v["study"], Value::Null);
    assert_eq!(v["metric"], "loss", "the metric of the trial's study");
    let names: Vec<&str> = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // numbered by start time: the picked runs are not all trials of one study
    assert_eq!(names, ["trial-2", "picked-0", "picked-1"]);
    let numbers: Vec<i64> = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [0, 1, 2]);
    let kind = v["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "kind")
        .unwrap()
        .clone();
    assert_eq!(kind["kind"], "categorical");
    assert_eq!(
        kind["categories"],
        json!([XSS, "b"]),
        "raw in JSON, escaped only by the page"
    );
    let lr = v["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "lr")
        .unwrap()
        .clone();
    assert_eq!(
        (lr["kind"].as_str(), lr["log"].as_bool()),
        (Some("numeric"), Some(true))
    );
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));

    // another metric by name: the runs without it drop out
    let r = get(addr, &format!("/api/compare?runs={list}&metric=val"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["trials"].as_array().unwrap().len(), 1);

    // user errors are 4xx with a message
    let many = (0..201)
        .map(|i| format!("{i:032x}"))
        .collect::<Vec<_>>()
        .join(",");
    let unknown = "0123456789abcdef0123456789abcdef";
    for (target, status) in [
        ("/api/compare".to_string(), 400),
        ("/api/compare?runs=".to_string(), 400),
        ("/api/compare?runs=,,".to_string(), 400),
        (
            format!("/api/compare?runs={}&study={}", picked[0], f.study_run),
            400,
        ),
        ("/api/compare?runs=a'b".to_string(), 400),
        (format!("/api/compare?runs={unknown}"), 404),
        (format!("/api/compare?study={unknown}"), 404),
        (format!("/api/compare?runs={many}"), 400),
    ] {
        let r = get(addr, &target);
        assert_eq!(r.status, status, "{target}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{target}");
    }
    server.stop();
}

#[test]
fn descriptions_of_models_versions_and_runs_are_edited_by_post() {
    let f = fixture();
    let run = f.trial_runs[1].clone();
    let desc = json!({ "description": format!("best so far {XSS}\nsecond line") });

    // read-only: refused, nothing changes
    let ro = start(&f, true);
    for target in [
        format!("/api/runs/{run}/description"),
        "/api/models/m/description".to_string(),
        "/api/models/m/versions/1/description".to_string(),
    ] {
        let r = post(ro.addr(), &target, Some(ro.token()), &desc);
        assert_eq!(r.status, 403, "{target}");
    }
    ro.stop();
    let r = f.tracker.get_run(&run).unwrap();
    assert!(r.data.tag("mlflow.note.content").is_none());

    let server = start(&f, false);
    let addr = server.addr();
    let token = server.token().to_string();
    let r = post(addr, &format!("/api/runs/{run}/description"), None, &desc);
    assert_eq!(r.status, 403, "no token");
    let r = post(
        addr,
        "/api/models/m/versions",
        Some(&token),
        &json!({"run_id": run}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let r = post(addr, "/api/models/m/description", Some(&token), &desc);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model"]["description"], desc["description"]);
    let r = post(
        addr,
        "/api/models/m/versions/1/description",
        Some(&token),
        &desc,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["model_version"]["description"],
        desc["description"]
    );
    let r = post(
        addr,
        &format!("/api/runs/{run}/description"),
        Some(&token),
        &desc,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let tags = r.json()["run"]["data"]["tags"].clone();
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "mlflow.note.content" && t["value"] == desc["description"]),
        "{tags}"
    );
    // the stored text comes back as JSON text, never as markup in a page
    let m = get(addr, "/api/models/m").json();
    assert_eq!(m["model"]["description"], desc["description"]);
    assert_eq!(m["versions"][0]["description"], desc["description"]);
    assert!(!get(addr, "/").text().contains("best so far"));

    // an empty description clears it
    let r = post(
        addr,
        "/api/models/m/description",
        Some(&token),
        &json!({"description": ""}),
    );
    assert_eq!(r.json()["model"]["description"], "");

    let long = json!({ "description": "x".repeat(20_001) });
    for (target, body, status) in [
        ("/api/models/m/description".to_string(), json!({}), 400),
        (
            "/api/models/m/description".to_string(),
            json!({"description": 3}),
            400,
        ),
        ("/api/models/m/description".to_string(), long.clone(), 400),
        (format!("/api/runs/{run}/description"), long, 400),
        (
            "/api/models/nope/description".to_string(),
            desc.clone(),
            404,
        ),
        (
            "/api/models/m/versions/9/description".to_string(),
            desc.clone(),
            404,
        ),
        (
            "/api/models/m/versions/x/description".to_string(),
            desc.clone(),
            400,
        ),
        (
            "/api/runs/0123456789abcdef0123456789abcdef/description".to_string(),
            desc.clone(),
            404,
        ),
    ] {
        let r = post(addr, &target, Some(&token), &body);
        assert_eq!(r.status, status, "{target} {body}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    server.stop();
}

/// Records a study of `n` trials over `space` (loss from `x` when present) into `tracker`'s
/// experiment `experiment`; returns the study's run id.
fn record_study(tracker: &Tracker, experiment: &str, space: &Space, n: usize) -> String {
    let recorder = Recorder::new(tracker, experiment).unwrap();
    let handle = recorder.handle();
    Fmin::new(
        |p: &Params| -> Result<f64, String> {
            let x = p.f64("x").unwrap_or(0.5);
            Ok(x * x)
        },
        space,
    )
    .max_evals(n)
    .seed(11)
    .observer(recorder)
    .run()
    .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    handle.study_run_id().unwrap()
}

#[test]
fn experiments_last_update_follows_the_runs_added_after_creation() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let id = tracker.create_experiment("later").unwrap();
    let created = tracker.get_experiment(id).unwrap().creation_time;
    std::thread::sleep(std::time::Duration::from_millis(30));
    let space = Space::from_params([hp::uniform("x", -1.0, 1.0)]).unwrap();
    let study = record_study(&tracker, "later", &space, 3);
    let study_end = tracker.get_run(&study).unwrap().info.end_time.unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let v = get(server.addr(), "/api/experiments").json();
    let e = v["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "later")
        .unwrap()
        .clone();
    assert_eq!(e["creation_time"], json!(created));
    let last = e["last_update_time"].as_i64().unwrap();
    assert!(
        last > created,
        "last update {last} not after creation {created}"
    );
    assert_eq!(last, study_end, "the study ended last");
    server.stop();
}

#[test]
fn a_choice_index_named_by_its_options_constants_is_one_param_and_few_trials_hide_importance() {
    use hpo::Node;
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let space = Space::new(hp::map([
        ("x", hp::uniform("x", -1.0, 1.0)),
        (
            "opt",
            hp::choice(
                "opt",
                [
                    hp::map([
                        ("opt", Node::from("sgd")),
                        ("lr", hp::uniform("lr", 0.0, 1.0)),
                    ]),
                    hp::map([
                        ("opt", Node::from("adam")),
                        ("beta", hp::uniform("beta", 0.0, 1.0)),
                    ]),
                ],
            ),
        ),
    ]))
    .unwrap();
    let big = record_study(&tracker, "cond", &space, 24);
    let small = record_study(&tracker, "cond", &space, 4);
    // the recorded params hold the index and the constant naming it
    let child = tracker.child_run_ids(&big).unwrap()[0].clone();
    let params = tracker.get_run(&child).unwrap().data.params;
    let keys: Vec<&str> = params.iter().map(|p| p.key.as_str()).collect();
    assert!(
        keys.contains(&"opt") && keys.contains(&"opt.opt"),
        "{keys:?}"
    );

    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let addr = server.addr();
    let v = get(addr, &format!("/api/compare?study={big}")).json();
    let axes: Vec<&str> = v["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(
        !axes.contains(&"opt"),
        "the index is counted through opt.opt: {axes:?}"
    );
    assert!(axes.contains(&"opt.opt"), "{axes:?}");
    for t in v["trials"].as_array().unwrap() {
        assert!(t["params"].get("opt").is_none(), "{t}");
    }
    let imp: Vec<&str> = v["importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["param"].as_str().unwrap())
        .collect();
    assert!(!imp.contains(&"opt") && imp.contains(&"opt.opt"), "{imp:?}");
    assert_eq!(v["importance_note"], Value::Null);
    let r = get(addr, &format!("/api/runs/{big}/importance")).json();
    let imp: Vec<&str> = r["importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["param"].as_str().unwrap())
        .collect();
    assert!(!imp.contains(&"opt") && imp.contains(&"x"), "{imp:?}");
    assert_eq!(r["note"], Value::Null);

    // four trials: no importance, and a note saying why
    for target in [
        format!("/api/compare?study={small}"),
        format!("/api/runs/{small}/importance"),
    ] {
        let v = get(addr, &target).json();
        assert_eq!(v["importance"], json!([]), "{target}: {v}");
        let note = v
            .get("importance_note")
            .or_else(|| v.get("note"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{target}: no note in {v}"));
        assert!(
            note.contains("at least 10") && note.contains("4 so far"),
            "{note}"
        );
    }
    server.stop();
}

#[test]
fn model_version_page_data_tags_and_model_deletion() {
    let f = fixture();
    let run = f.trial_runs[1].clone();
    let server = start(&f, false);
    let addr = server.addr();
    let token = server.token().to_string();
    let r = post(
        addr,
        "/api/models/m/versions",
        Some(&token),
        &json!({"run_id": run, "artifact_path": "model"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(
        addr,
        "/api/models/m/aliases/champion",
        Some(&token),
        &json!({"version": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let v = get(addr, "/api/models/m/versions/1").json();
    let mv = &v["model_version"];
    assert_eq!(mv["version"], 1);
    assert_eq!(mv["run_id"], json!(run));
    assert_eq!(mv["aliases"], json!(["champion"]));
    assert_eq!(mv["current_stage"], "None");
    let params = mv["run_params"].as_array().unwrap();
    assert!(params.iter().any(|p| p["key"] == "x"), "{mv}");
    let metrics = mv["run_metrics"].as_array().unwrap();
    assert!(metrics.iter().any(|m| m["key"] == "loss"), "{mv}");
    assert_eq!(v["run"]["run_id"], json!(run));
    assert_eq!(v["run"]["experiment_id"], json!(f.experiment_id));
    assert_eq!(get(addr, "/api/models/m/versions/9").status, 404);
    assert_eq!(get(addr, "/api/models/m/versions/one").status, 400);
    assert_eq!(get(addr, "/api/models/nope/versions/1").status, 404);

    // tags of the version and of the model: set, then delete
    let r = post(
        addr,
        "/api/models/m/versions/1/tags",
        Some(&token),
        &json!({"key": "team", "value": "ml"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["model_version"]["tags"],
        json!([{"key": "team", "value": "ml"}])
    );
    let r = post(
        addr,
        "/api/models/m/versions/1/tags",
        Some(&token),
        &json!({"key": "team", "delete": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["model_version"]["tags"], json!([]));
    let r = post(
        addr,
        "/api/models/m/tags",
        Some(&token),
        &json!({"key": "owner", "value": XSS}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["model"]["tags"],
        json!([{"key": "owner", "value": XSS}])
    );
    let r = post(
        addr,
        "/api/models/m/tags",
        Some(&token),
        &json!({"key": "owner"}),
    );
    assert_eq!(r.status, 400, "a value is needed unless deleting");
    assert!(r.json()["error"].as_str().unwrap().contains("'value'"));
    assert_eq!(
        post(
            addr,
            "/api/models/m/tags",
            None,
            &json!({"key": "a", "value": "b"})
        )
        .status,
        403
    );

    // deleting the model: refused without the token, then gone with its versions; the run stays
    assert_eq!(
        post(addr, "/api/models/m/delete", None, &json!({})).status,
        403
    );
    let r = post(addr, "/api/models/m/delete", Some(&token), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["deleted"], "m");
    assert_eq!(get(addr, "/api/models/m").status, 404);
    assert_eq!(get(addr, "/api/models/m/versions/1").status, 404);
    assert_eq!(get(addr, &format!("/api/runs/{run}")).status, 200);
    server.stop();

    let ro = start(&f, true);
    let r = post(
        ro.addr(),
        "/api/models/m/delete",
        Some(ro.token()),
        &json!({}),
    );
    assert_eq!(r.status, 403);
    ro.stop();
}

#[test]
fn compare_axes_follow_the_distributions_recorded_with_the_study() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let space = Space::from_params([
        hp::uniform("l1_ratio", 0.0001, 1.0),
        hp::loguniform("lr", -3.0, -2.0),
        hp::uniform("x", -1.0, 1.0),
    ])
    .unwrap();
    let study = record_study(&tracker, "dists", &space, 12);
    let tag = tracker
        .get_run(&study)
        .unwrap()
        .data
        .tag("hpo.distributions")
        .map(str::to_string);
    assert_eq!(
        serde_json::from_str::<Value>(tag.as_deref().unwrap()).unwrap(),
        json!({"l1_ratio": "uniform", "lr": "loguniform", "x": "uniform"})
    );
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let v = get(server.addr(), &format!("/api/compare?study={study}")).json();
    let axis = |k: &str| {
        v["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == k)
            .unwrap()
            .clone()
    };
    // lr spans less than 100x but is loguniform; l1_ratio is uniform whatever its span
    assert_eq!(axis("lr")["log"], true, "{v}");
    assert_eq!(axis("lr")["distribution"], "loguniform");
    assert_eq!(axis("l1_ratio")["log"], false, "{v}");
    assert_eq!(axis("l1_ratio")["distribution"], "uniform");
    server.stop();
}

#[test]
fn compare_curves_carry_learning_curves_pruned_marks_and_thresholds() {
    use hpo::study::prune::Median;
    use hpo::TrialResult;
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let recorder = Recorder::new(&tracker, "curves")
        .unwrap()
        .study_name("pruned-study");
    let handle = recorder.handle();
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let n = 16;
    // val_loss = x + 1 / (step + 1): a larger x is worse at every step
    Fmin::new(
        with_context(|p: &Params, ctx: &TrialContext| {
            let x = p.f64("x").unwrap_or(1.0);
            let mut v = f64::NAN;
            for step in 0..6 {
                v = x + 1.0 / (step + 1) as f64;
                if ctx.report(step, v) {
                    return TrialResult::pruned();
                }
            }
            TrialResult::ok(v)
        }),
        &space,
    )
    .pruner(Median::new())
    .prune_metric("val_loss")
    .max_evals(n)
    .seed(11)
    .observer(recorder)
    .run()
    .unwrap();
    assert!(handle.errors().is_empty(), "{:?}", handle.errors());
    let study = handle.study_run_id().unwrap();
    let server = UiServer::bind("127.0.0.1:0", tracker.clone(), UiOptions::default())
        .unwrap()
        .spawn();
    let v = get(server.addr(), &format!("/api/compare/curves?study={study}")).json();
    // the metric defaults to what the pruner watched
    assert_eq!(v["metric"], "val_loss", "{v}");
    assert_eq!(v["total"], json!(n));
    assert_eq!(v["truncated"], false);
    let curves = v["curves"].as_array().unwrap();
    assert_eq!(curves.len(), n, "every trial reported: {v}");
    let numbers: Vec<i64> = curves
        .iter()
        .map(|c| c["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (0..n as i64).collect::<Vec<_>>());
    let pruned: Vec<&Value> = curves.iter().filter(|c| c["state"] == "PRUNED").collect();
    assert!(!pruned.is_empty(), "{v}");
    for c in &pruned {
        let points = c["points"].as_array().unwrap();
        let last = points.last().unwrap();
        // the mark is where the curve stopped, and the pruner's threshold there was lower
        assert_eq!(c["pruned"]["step"], last[0], "{c}");
        assert_eq!(c["pruned"]["value"], last[1], "{c}");
        assert!(points.len() < 6, "{c}");
        let thresholds = c["thresholds"].as_array().unwrap();
        let at_stop = thresholds
            .iter()
            .find(|t| t[0] == last[0])
            .unwrap_or_else(|| panic!("a threshold at the pruned step: {c}"));
        assert!(
            at_stop[1].as_f64().unwrap() < last[1].as_f64().unwrap(),
            "{c}"
        );
    }
    // the five start-up trials completed all six steps, without thresholds (nothing to compare)
    for c in &curves[..5] {
        assert_eq!(c["state"], "FINISHED");
        assert_eq!(c["points"].as_array().unwrap().len(), 6);
        assert_eq!(c["pruned"], Value::Null);
        assert_eq!(c["thresholds"], json!([]));
    }
    // finished trials after the start-up were compared at the steps they reported
    for c in curves[5..].iter().filter(|c| c["state"] == "FINISHED") {
        let steps: Vec<&Value> = c["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p[0])
            .collect();
        let thresholds = c["thresholds"].as_array().unwrap();
        assert!(!thresholds.is_empty(), "{c}");
        assert!(thresholds.iter().all(|t| steps.contains(&&t[0])), "{c}");
    }
    // picked runs and an explicit metric; a metric nobody logged gives no curves
    let ids: Vec<String> = pruned
        .iter()
        .map(|c| c["run_id"].as_str().unwrap().to_string())
        .collect();
    let picked = get(
        server.addr(),
        &format!("/api/compare/curves?runs={}", ids.join(",")),
    )
    .json();
    assert_eq!(
        picked["curves"].as_array().unwrap().len(),
        ids.len(),
        "{picked}"
    );
    assert_eq!(picked["metric"], "val_loss");
    let other = get(
        server.addr(),
        &format!("/api/compare/curves?study={study}&metric=nope"),
    )
    .json();
    assert_eq!(other["curves"], json!([]));
    assert_eq!(get(server.addr(), "/api/compare/curves").status, 400);
    server.stop();
}
