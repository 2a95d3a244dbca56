//! The HTTP stack: hyper through axum on a tokio runtime, turning each request into an
//! [`http::Request`] for the blocking handlers and their [`http::Response`] back.
//!
//! Connections are kept alive and served concurrently. The request head is limited to
//! [`http::MAX_HEAD_BYTES`] (413 beyond), the body to [`http::MAX_BODY_BYTES`] (or
//! [`http::MAX_ARTIFACT_BYTES`] for an artifact upload). Handlers touch the SQLite store, so they run
//! on tokio's blocking pool (`spawn_blocking`), never on the executor's threads; a panic in one
//! answers 500 and leaves the server running.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{HeaderName, HeaderValue, StatusCode};

use super::{http, is_loopback_host, mlflow, State};

/// Executor threads of the runtime (the store calls run on the blocking pool, not here).
pub const EXECUTOR_THREADS: usize = 2;
/// How long requests in flight may still take once the server is told to stop.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `listener` until `shutdown` resolves, then lets in-flight requests finish and commits
/// the tracker's queued writes.
pub(crate) fn serve_until(
    listener: std::net::TcpListener,
    state: Arc<State>,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(EXECUTOR_THREADS)
        .max_blocking_threads(workers.max(1))
        .thread_name("hpo-server")
        .enable_io()
        .enable_time()
        .build()?;
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(state.clone());
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (started, stopping) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            let _ = started.send(());
        };
        let serve = axum::serve(listener, app).with_graceful_shutdown(signal);
        // A client that keeps a request going does not hold the shutdown up forever.
        let grace = async move {
            if stopping.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = std::future::IntoFuture::into_future(serve) => served,
            _ = grace => {
                eprintln!(
                    "warning: requests still open {} s after the stop signal were dropped",
                    SHUTDOWN_GRACE.as_secs()
                );
                Ok(())
            }
        }
    });
    // Store calls already running on the blocking pool finish before the runtime goes away.
    drop(runtime);
    if let Err(e) = state.tracker.flush() {
        eprintln!("warning: committing the queued writes failed: {e}");
    }
    served
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn interrupt() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

fn head_size(req: &axum::extract::Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    line + req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
}

fn body_limit(path: &str, method: &axum::http::Method) -> usize {
    let artifacts = path.starts_with("/api/2.0/mlflow-artifacts/")
        || path.starts_with("/ajax-api/2.0/mlflow-artifacts/");
    if artifacts && method == axum::http::Method::PUT {
        http::MAX_ARTIFACT_BYTES
    } else {
        http::MAX_BODY_BYTES
    }
}

async fn handle(
    AxState(state): AxState<Arc<State>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    match read(&state, req).await {
        Ok(request) => {
            let response = tokio::task::spawn_blocking(move || route(&state, &request))
                .await
                .unwrap_or_else(|_| http::Response::error(500, "internal error"));
            convert(response)
        }
        Err(response) => convert(response),
    }
}

/// Reads and checks a request: head size, loopback `Host`, body size, target syntax.
async fn read(state: &State, req: axum::extract::Request) -> Result<http::Request, http::Response> {
    if head_size(&req) > http::MAX_HEAD_BYTES {
        return Err(http::Response::error(413, "request head too large"));
    }
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{0}"))
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if state.loopback_only && !host.is_none_or(is_loopback_host) {
        return Err(http::Response::error(
            421,
            "this server answers only requests addressed to a loopback host",
        ));
    }
    let limit = body_limit(req.uri().path(), req.method());
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |pq| pq.as_str().to_string());
    let (segments, query) =
        http::parse_target(&target).map_err(|e| http::Response::error(e.status, &e.message))?;
    let method = req.method().as_str().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large(limit))?;
    Ok(http::Request {
        method,
        segments,
        query,
        headers,
        body: body.to_vec(),
    })
}

fn too_large(limit: usize) -> http::Response {
    http::Response::error(413, &format!("request body larger than {limit} bytes"))
}

/// Routes a request: MLflow's REST API under `/api/2.0/` and `/ajax-api/2.0/`, else the UI.
fn route(state: &State, req: &http::Request) -> http::Response {
    let run = || {
        if mlflow::is_mlflow_path(&req.segments) {
            mlflow::handle(state, req)
        } else {
            super::api::handle(state, req)
        }
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| http::Response::error(500, "internal error"))
}

/// hyper leaves the body out of an answer to `HEAD` itself, keeping its `Content-Length`.
fn convert(response: http::Response) -> axum::response::Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = axum::response::Response::new(Body::from(response.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    let fixed = [
        ("content-type", response.content_type.as_str()),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
    ];
    for (k, v) in fixed.into_iter().chain(
        response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(name, value);
        }
    }
    out
}
