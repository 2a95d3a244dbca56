//! A tiny W3C WebDriver client for the UI's click-driven browser tests: it starts Debian's
//! `chromedriver` on a free loopback port, opens one headless chromium session and speaks the
//! protocol as JSON over plain HTTP/1.1 (one request per connection, no dependency beyond
//! `serde_json`). Only what the tests use is here: navigate, find, click, type, read text, run a
//! script, wait for a condition and take a screenshot.

// Each test file that includes this module uses a different part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key W3C WebDriver uses for an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long waits and chromedriver's start may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// Where Debian installs chromedriver and chromium.
pub fn driver_paths() -> Option<(PathBuf, PathBuf)> {
    let driver = PathBuf::from("/usr/bin/chromedriver");
    let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())?;
    driver.exists().then_some((driver, browser))
}

/// A running chromedriver with one browser session; both end on drop.
pub struct Session {
    driver: Child,
    addr: SocketAddr,
    id: String,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP exchange: the status and the JSON body.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    try_http(addr, method, path, body).expect("an HTTP answer from chromedriver")
}

/// [`http`], or `None` when the connection fails or the answer is not HTTP.
fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    // read the head, then as many bytes as Content-Length says (chromedriver may keep the connection)
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    match length {
        Some(len) => {
            while raw.len() < head_end + len {
                let n = s.read(&mut buf).ok()?;
                if n == 0 {
                    return None;
                }
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            s.read_to_end(&mut raw).ok()?;
        }
    }
    let rest = String::from_utf8_lossy(&raw[head_end..]);
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(&rest).unwrap_or(Value::Null)))
}

impl Session {
    /// Starts chromedriver and a headless chromium of `width` x `height` pixels.
    pub fn start(driver: &Path, browser: &Path, width: u32, height: u32) -> Session {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let start = Instant::now();
        // chromedriver takes a moment to listen: poll its status until it is ready
        while try_http(addr, "GET", "/status", None).is_none_or(|(status, _)| status != 200) {
            assert!(start.elapsed() < WAIT, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser.display().to_string(), "args": args},
        }}});
        let (status, v) = http(addr, "POST", "/session", Some(&caps));
        let mut session = Session {
            driver: child,
            addr,
            id: String::new(),
            _profile: profile,
        };
        assert_eq!(status, 200, "no session: {v}");
        session.id = v["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        session
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.id);
        let (status, v) = http(self.addr, method, &full, body.as_ref());
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs asynchronous `script`, which ends by calling `arguments[arguments.length - 1](value)`;
    /// returns that value.
    pub fn eval_async(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/timeouts", Some(json!({"script": 120_000})));
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The elements matching a CSS selector now (maybe none).
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `cond` holds, polling; panics with `what` after [`WAIT`].
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut(&Session) -> bool) {
        let start = Instant::now();
        while !cond(self) {
            assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the first element matching `css`.
    pub fn find(&self, css: &str) -> Element {
        let mut found = None;
        self.wait_until(css, |s| {
            found = s.find_all(css).into_iter().next();
            found.is_some()
        });
        found.unwrap()
    }

    /// Waits for an element matching `css` whose text contains `text`.
    pub fn find_with_text(&self, css: &str, text: &str) -> Element {
        let mut found = None;
        self.wait_until(&format!("{css} with text {text:?}"), |s| {
            // one script, so a re-render between finding and reading cannot leave a stale element
            let v = s.eval(
                "for (const e of document.querySelectorAll(arguments[0])) \
                   if (e.innerText.includes(arguments[1])) return e;
                 return null;",
                json!([css, text]),
            );
            found = v[ELEMENT_KEY].as_str().map(|id| Element(id.to_string()));
            found.is_some()
        });
        found.unwrap()
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.call("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Waits for an element matching `css` with `text` and clicks it, again if the page redrew it
    /// in between (a stale element).
    pub fn click_on(&self, css: &str, text: &str) {
        self.wait_until(&format!("a click on {css} with text {text:?}"), |s| {
            let e = s.find_with_text(css, text);
            let path = format!("/session/{}/element/{}/click", s.id, e.0);
            http(s.addr, "POST", &path, Some(&json!({}))).0 == 200
        });
    }

    /// Types `text` into an element (`\u{E007}` is Enter).
    pub fn type_text(&self, e: &Element, text: &str) {
        self.call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// An element's rendered text.
    pub fn text(&self, e: &Element) -> String {
        self.call("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// The page's whole text.
    pub fn page_text(&self) -> String {
        self.eval("return document.body.innerText;", json!([]))
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let bytes = base64_decode(b64.as_str().expect("base64 PNG"));
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = http(self.addr, "DELETE", &format!("/session/{}", self.id), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
