//! `hpo ui`: serve the web interface over the tracking store.

use clap::Args;

use super::{open_tracker, open_tracker_to_read};
use crate::ui::{UiOptions, UiServer};

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
    if !is_loopback(&args.host) {
        eprintln!(
            "warning: listening on {} makes the tracking store reachable from other machines; \
             anyone who can reach it can read every run",
            args.host
        );
    }
    let host = args.host.trim_start_matches('[').trim_end_matches(']');
    let server = UiServer::bind(
        (host, args.port),
        tracker,
        UiOptions {
            read_only: args.read_only,
            token: None,
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = server.local_addr();
    println!(
        "hpo ui{} at http://{addr}/ (Ctrl-C to stop)",
        if args.read_only { " (read-only)" } else { "" }
    );
    server.run();
    Ok(())
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
