//! The HTTP side of the remote store: one keep-alive connection pool (a [`ureq::Agent`]) to a
//! tracking server, MLflow's JSON calls under `/api/2.0/mlflow/` and the raw byte transfers of
//! the `mlflow-artifacts` proxy, with MLflow's error bodies decoded.

use std::time::Duration;

use serde_json::Value;

/// How long one call may take before it fails (a server that stops answering).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest JSON answer read, in bytes (a page of 50 000 runs stays well below).
const MAX_JSON_BYTES: u64 = 512 * 1024 * 1024;
/// Largest artifact file downloaded into memory, in bytes.
const MAX_ARTIFACT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A failed call: the server answered with an error, or it could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// The server answered with a non-2xx status; MLflow's `error_code` and `message` when the
    /// body had them.
    Api {
        /// The HTTP status.
        status: u16,
        /// MLflow's error code (`RESOURCE_DOES_NOT_EXIST`, ...), or `HTTP_<status>`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// No answer: the connection failed, timed out or the answer was not JSON.
    Transport(String),
}

impl CallError {
    /// The MLflow error code, if the server answered.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            CallError::Api { code, .. } => Some(code),
            CallError::Transport(_) => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Api {
                status,
                code,
                message,
            } => write!(f, "the tracking server answered {status} {code}: {message}"),
            CallError::Transport(why) => write!(f, "cannot reach the tracking server: {why}"),
        }
    }
}

/// The methods besides `POST` that carry a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyMethod {
    /// `PATCH` (an update).
    Patch,
    /// `DELETE` (a deletion).
    Delete,
}

/// A client of one tracking server (`http://host:port`, with an optional path prefix).
#[derive(Debug)]
pub(crate) struct RestClient {
    base: String,
    agent: ureq::Agent,
}

/// `s` percent-encoded for a URL path segment or query value: everything but unreserved
/// characters (and `/` when `keep_slash`).
pub(crate) fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/');
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RestClient {
    /// A client of the server at `base` (`http://host:port[/prefix]`, no trailing slash needed).
    pub(crate) fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .max_idle_connections_per_host(64)
            .build()
            .into();
        RestClient {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// The server's address as given.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn api_url(&self, endpoint: &str) -> String {
        format!("{}/api/2.0/mlflow/{endpoint}", self.base)
    }

    /// The proxy URL of an artifact location (`<experiment>/<run>/artifacts/<path>`).
    fn artifact_url(&self, path: &str) -> String {
        format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            encode(path.trim_start_matches('/'), true)
        )
    }

    /// `GET /api/2.0/mlflow/<endpoint>?<query>`.
    pub(crate) fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, CallError> {
        self.get_from("mlflow", endpoint, query)
    }

    /// `GET /api/2.0/<api>/<endpoint>?<query>`, for an API beside MLflow's (hpo's own calls).
    pub(crate) fn get_from(
        &self,
        api: &str,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, CallError> {
        let mut url = format!("{}/api/2.0/{api}/{endpoint}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode(k, false));
            url.push('=');
            url.push_str(&encode(v, false));
        }
        let resp = self.agent.get(&url).call();
        json_answer(resp)
    }

    /// `POST /api/2.0/mlflow/<endpoint>` with a JSON body.
    pub(crate) fn post(&self, endpoint: &str, body: &Value) -> Result<Value, CallError> {
        let resp = self
            .agent
            .post(&self.api_url(endpoint))
            .content_type("application/json")
            .send(body.to_string());
        json_answer(resp)
    }

    /// `PATCH` or `DELETE` of `/api/2.0/mlflow/<endpoint>` with a JSON body (MLflow's registry
    /// sends its updates and deletions so).
    pub(crate) fn send(
        &self,
        method: BodyMethod,
        endpoint: &str,
        body: &Value,
    ) -> Result<Value, CallError> {
        let url = self.api_url(endpoint);
        let request = match method {
            BodyMethod::Patch => self.agent.patch(&url),
            BodyMethod::Delete => self.agent.delete(&url).force_send_body(),
        };
        json_answer(
            request
                .content_type("application/json")
                .send(body.to_string()),
        )
    }

    /// `POST /api/2.0/<api>/<endpoint>` with a JSON body, for an API beside MLflow's (hpo's own
    /// calls under `/api/2.0/hpo/`).
    pub(crate) fn post_to(
        &self,
        api: &str,
        endpoint: &str,
        body: &Value,
    ) -> Result<Value, CallError> {
        let resp = self
            .agent
            .post(&format!("{}/api/2.0/{api}/{endpoint}", self.base))
            .content_type("application/json")
            .send(body.to_string());
        json_answer(resp)
    }

    /// `GET` of the `mlflow-artifacts` proxy's listing of a directory location.
    pub(crate) fn list_artifacts(&self, location: &str) -> Result<Value, CallError> {
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts?path={}",
            self.base,
            encode(location, false)
        );
        json_answer(self.agent.get(&url).call())
    }

    /// Uploads a file to an artifact location through the proxy.
    pub(crate) fn put_artifact(&self, location: &str, bytes: &[u8]) -> Result<(), CallError> {
        let resp = self
            .agent
            .put(&self.artifact_url(location))
            .content_type("application/octet-stream")
            .send(bytes);
        bytes_answer(resp).map(|_| ())
    }

    /// Downloads the file at an artifact location through the proxy.
    pub(crate) fn get_artifact(&self, location: &str) -> Result<Vec<u8>, CallError> {
        bytes_answer(self.agent.get(&self.artifact_url(location)).call())
    }
}

fn transport(e: ureq::Error) -> CallError {
    CallError::Transport(e.to_string())
}

/// The body of a 2xx answer, or the error it stands for.
fn bytes_answer(
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Vec<u8>, CallError> {
    let mut resp = resp.map_err(transport)?;
    let status = resp.status().as_u16();
    let limit = if (200..300).contains(&status) {
        MAX_ARTIFACT_BYTES
    } else {
        MAX_JSON_BYTES
    };
    let body = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(transport)?;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    Err(api_error(status, &body))
}

/// MLflow's `{"error_code", "message"}` of a failed answer (or the status and the body's start).
fn api_error(status: u16, body: &[u8]) -> CallError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("error_code").unwrap_or_else(|| format!("HTTP_{status}"));
    let message = field("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.chars()
            .take(300)
            .collect::<String>()
            .trim()
            .to_string()
    });
    CallError::Api {
        status,
        code,
        message,
    }
}

/// The JSON of a 2xx answer (an empty body reads as `{}`), or the error it stands for.
fn json_answer(
    resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Value, CallError> {
    let body = bytes_answer(resp)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&body).map_err(|e| {
        CallError::Transport(format!(
            "the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_unreserved_characters() {
        assert_eq!(encode("a b/c", true), "a%20b/c");
        assert_eq!(encode("a b/c", false), "a%20b%2Fc");
        assert_eq!(encode("é", false), "%C3%A9");
    }

    #[test]
    fn error_bodies_are_decoded() {
        let e = api_error(
            404,
            br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no run"}"#,
        );
        assert_eq!(e.code(), Some("RESOURCE_DOES_NOT_EXIST"));
        let e = api_error(502, b"<html>bad gateway</html>");
        assert_eq!(e.code(), Some("HTTP_502"));
    }
}
