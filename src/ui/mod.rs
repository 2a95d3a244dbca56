//! `hpo ui` and `hpo server`: a small web interface to the tracking store and the model registry,
//! and MLflow's REST API over the same store.
//!
//! A [`UiServer`] is an HTTP/1.1 server (hyper through axum on tokio, see `serve.rs`): keep-alive,
//! concurrent requests, size limits, graceful shutdown. It serves the pages embedded in the binary
//! (`assets/`: `index.html`, `app.js`, `compare.js`, `models.js`, `curves.js`, `style.css`; no network needed), the JSON API documented in
//! [`api`], and MLflow's REST API documented in [`mlflow`]. Changes through the UI's API go only
//! through `POST` with the per-server token (embedded in the page, sent back in `X-HPO-Token`);
//! MLflow's API takes no token (MLflow's clients send none) but refuses `POST`s that are not JSON.
//! Read-only mode refuses every change through either.
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
pub mod choice_index;
pub mod compare;
pub mod http;
pub mod importance;
pub mod intermediate;
mod memory;
pub mod mlflow;
mod serve;

pub use memory::release_free_memory;

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::registry::Registry;
use crate::tracking::Tracker;

/// Threads running the handlers' store calls (tokio's blocking pool) unless set otherwise.
pub const WORKERS: usize = 8;

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
    /// MLflow clients get `mlflow-artifacts:/` locations and the proxy endpoints answer.
    serve_artifacts: bool,
    /// The trial runs `hpo run` owns while their processes log through this server.
    trial_feeds: Option<crate::objective::command::TrialFeeds>,
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
    workers: usize,
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
                serve_artifacts: true,
                trial_feeds: None,
            }),
            workers: WORKERS,
        })
    }

    /// Sets how many threads run the handlers' store calls (at least 1; [`WORKERS`] by default).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Whether MLflow clients reach artifacts through this server (`mlflow-artifacts:/` locations and
    /// the proxy endpoints; the default) or directly in the local directories.
    pub fn serve_artifacts(mut self, on: bool) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.serve_artifacts = on;
        }
        self
    }

    /// The trial runs a study owns while their processes log through this server: metrics
    /// logged into them go to the trial, and clients' status changes of them are ignored.
    pub fn trial_feeds(mut self, feeds: crate::objective::command::TrialFeeds) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.trial_feeds = Some(feeds);
        }
        self
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

    /// Serves on a background thread until [`RunningServer::stop`] (or drop).
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let token = self.state.token.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = serve::serve_until(self.listener, self.state, self.workers, shutdown) {
                eprintln!("error: the server stopped: {e}");
            }
        });
        RunningServer {
            addr,
            token,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Serves on the calling thread until Ctrl-C or SIGTERM: in-flight requests finish and the
    /// queued tracking writes are committed before it returns.
    pub fn run(self) -> io::Result<()> {
        serve::serve_until(self.listener, self.state, self.workers, serve::interrupt())
    }
}

/// A server serving on a background thread.
pub struct RunningServer {
    addr: SocketAddr,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
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

    /// Stops accepting, lets in-flight requests finish, commits queued writes and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
