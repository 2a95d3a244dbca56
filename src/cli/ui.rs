//! `hpo ui`: serve the web interface over the tracking store.

use clap::Args;

use super::{open_tracker, open_tracker_to_read};
use crate::ui::{UiOptions, UiServer, WORKERS};

/// Arguments of `hpo ui`.
#[derive(Args, Debug)]
pub struct UiArgs {
    /// Address to listen on; anything but loopback exposes the store to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Refuse every change (registering, aliases, stages, descriptions, deleting and restoring runs).
    #[arg(long)]
    pub read_only: bool,
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn run(args: UiArgs, uri: &Option<String>) -> anyhow::Result<()> {
    // a read-only UI needs an existing store (and reads one it cannot write)
    let tracker = if args.read_only {
        open_tracker_to_read(uri)?
    } else {
        open_tracker(uri)?
    };
    serve(
        "hpo ui",
        tracker,
        &args.host,
        args.port,
        Serving {
            read_only: args.read_only,
            workers: WORKERS,
            serve_artifacts: true,
        },
    )
}

/// How `hpo ui` and `hpo server` serve.
pub(crate) struct Serving {
    /// Refuse every change.
    pub read_only: bool,
    /// Threads for the store calls.
    pub workers: usize,
    /// Proxy artifacts for MLflow clients.
    pub serve_artifacts: bool,
}

/// Binds, prints the URL and serves until Ctrl-C or SIGTERM.
pub(crate) fn serve(
    label: &str,
    tracker: crate::tracking::Tracker,
    host: &str,
    port: u16,
    how: Serving,
) -> anyhow::Result<()> {
    if !is_loopback(host) {
        eprintln!(
            "warning: listening on {host} makes the tracking store reachable from other machines; \
             anyone who can reach it can read every run"
        );
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let server = UiServer::bind(
        (bare, port),
        tracker,
        UiOptions {
            read_only: how.read_only,
            token: None,
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot listen on {host}:{port}: {e}"))?
    .workers(how.workers)
    .serve_artifacts(how.serve_artifacts);
    let addr = server.local_addr();
    println!(
        "{label}{} at http://{addr}/ (Ctrl-C to stop)",
        if how.read_only { " (read-only)" } else { "" }
    );
    server
        .run()
        .map_err(|e| anyhow::anyhow!("the server on {addr} failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.2", "::", "example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
