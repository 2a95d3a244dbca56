//! `hpo ui`: a small web interface to the tracking store and the model registry.
//!
//! A [`UiServer`] is an HTTP/1.1 server on a plain [`TcpListener`]: one thread accepts connections and
//! hands them to a few worker threads, each answering one request per connection (`Connection: close`).
//! It serves the pages embedded in the binary (`assets/`: `index.html`, `app.js`, `style.css`; no network
//! needed) and the JSON API documented in [`api`]. Changes go only through `POST` with the per-server
//! token (embedded in the page, sent back in `X-HPO-Token`), and read-only mode refuses them all.
//!
//! ```no_run
//! use hpo::tracking::Tracker;
//! use hpo::ui::{UiOptions, UiServer};
//! let tracker = Tracker::open("sqlite:///hpo.db").unwrap();
//! let server = UiServer::bind("127.0.0.1:0", tracker, UiOptions::default()).unwrap();
//! println!("http://{}/", server.local_addr());
//! let running = server.spawn();
//! // ... later
//! running.stop();
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod compare;
pub mod http;
pub mod importance;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::registry::Registry;
use crate::tracking::Tracker;

/// Worker threads answering requests.
pub const WORKERS: usize = 8;
/// How long a connection may take to send its request or read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of a [`UiServer`].
#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    /// Refuse every change (`POST` answers 403).
    pub read_only: bool,
    /// The token `POST` requests must send in `X-HPO-Token`; a random one when `None`.
    pub token: Option<String>,
}

/// What the request handlers share.
pub struct State {
    tracker: Tracker,
    registry: Option<Registry>,
    token: String,
    read_only: bool,
    /// Bound to loopback: only requests naming a loopback host are answered (no DNS rebinding).
    loopback_only: bool,
}

/// Whether the `Host` header names a loopback host (`localhost`, `127.x.y.z`, `[::1]`, any port).
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn random_token() -> String {
    let a: u128 = rand::random();
    let b: u128 = rand::random();
    format!("{a:032x}{b:032x}")
}

/// A bound, not yet serving UI server.
pub struct UiServer {
    listener: TcpListener,
    state: Arc<State>,
}

impl UiServer {
    /// Binds to `addr` (port 0 picks a free port) over the store of `tracker`.
    pub fn bind(
        addr: impl ToSocketAddrs,
        tracker: Tracker,
        options: UiOptions,
    ) -> io::Result<UiServer> {
        let listener = TcpListener::bind(addr)?;
        let loopback_only = listener.local_addr()?.ip().is_loopback();
        let registry = Registry::new(tracker.clone()).ok();
        let token = options
            .token
            .filter(|t| !t.is_empty())
            .unwrap_or_else(random_token);
        Ok(UiServer {
            listener,
            state: Arc::new(State {
                tracker,
                registry,
                token,
                read_only: options.read_only,
                loopback_only,
            }),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The token `POST` requests must carry in `X-HPO-Token`.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// Serves on background threads until [`RunningServer::stop`] (or drop).
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let token = self.state.token.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let accept = std::thread::spawn(move || self.serve(&flag));
        RunningServer {
            addr,
            token,
            stop,
            accept: Some(accept),
        }
    }

    /// Serves on the calling thread, forever.
    pub fn run(self) {
        self.serve(&AtomicBool::new(false));
    }

    fn serve(self, stop: &AtomicBool) {
        let (tx, rx) = mpsc::channel::<TcpStream>();
        let rx = Arc::new(Mutex::new(rx));
        let workers: Vec<JoinHandle<()>> = (0..WORKERS)
            .map(|_| {
                let rx = rx.clone();
                let state = self.state.clone();
                std::thread::spawn(move || loop {
                    let next = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(stream) => serve_connection(&state, stream),
                        Err(_) => return,
                    }
                })
            })
            .collect();
        for conn in self.listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match conn {
                Ok(stream) => {
                    if tx.send(stream).is_err() {
                        break;
                    }
                }
                // Transient failures (e.g. too many open files): keep accepting.
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        drop(tx);
        for w in workers {
            let _ = w.join();
        }
    }
}

fn serve_connection(state: &State, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let (response, head_only) = match http::read_request(&mut stream) {
        Ok(req) if state.loopback_only && !req.header("host").is_none_or(is_loopback_host) => (
            http::Response::error(
                421,
                "this server answers only requests addressed to a loopback host",
            ),
            false,
        ),
        Ok(req) => {
            let head_only = req.method == "HEAD";
            // A panic in a handler must not kill the worker: answer 500 instead.
            let resp =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| api::handle(state, &req)))
                    .unwrap_or_else(|_| http::Response::error(500, "internal error"));
            (resp, head_only)
        }
        Err(e) => (http::Response::error(e.status, &e.message), false),
    };
    let _ = response.write_to(&mut stream, head_only);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A server serving on background threads.
pub struct RunningServer {
    addr: SocketAddr,
    token: String,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token `POST` requests must carry in `X-HPO-Token`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops accepting, lets the workers finish their connections, and joins every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(2));
        let _ = accept.join();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_host_headers() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:80",
            "127.0.0.2",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:5000",
            "10.0.0.1:5000",
            "[::2]:1",
            "",
            "localhost.evil",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
