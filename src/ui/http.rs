//! A minimal HTTP/1.1 request reader and response writer for the UI server.
//!
//! One request per connection (`Connection: close`). The request line, headers and a `Content-Length`
//! body are read with hard limits; anything malformed becomes an [`HttpError`] with a 4xx status, never
//! a panic. Paths are split on `/` before each segment is percent-decoded, so an encoded `%2F` stays
//! inside its segment.

use std::io::{Read, Write};

/// Largest request line plus headers accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most headers accepted in one request.
pub const MAX_HEADERS: usize = 64;

/// A request the server could not accept, with the status to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The HTTP status code (4xx or 5xx).
    pub status: u16,
    /// A message for the client.
    pub message: String,
}

impl HttpError {
    /// An error with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        HttpError {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The decoded path segments (`/api/runs/x` is `["api", "runs", "x"]`; `/` is `[]`).
    pub segments: Vec<String>,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `name`.
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Parses a request from raw bytes (the head and any body already read).
    pub fn parse(head: &str, body: Vec<u8>) -> Result<Request, HttpError> {
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or("");
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HttpError::bad("malformed request line"));
        };
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(HttpError::bad("malformed method"));
        }
        if version != "HTTP/1.1" && version != "HTTP/1.0" {
            return Err(HttpError::new(
                505,
                "only HTTP/1.0 and HTTP/1.1 are supported",
            ));
        }
        let (segments, query) = parse_target(target)?;
        let mut headers = Vec::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(HttpError::bad("malformed header line"));
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(HttpError::bad("malformed header name"));
            }
            if headers.len() >= MAX_HEADERS {
                return Err(HttpError::new(431, "too many headers"));
            }
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        Ok(Request {
            method: method.to_string(),
            segments,
            query,
            headers,
            body,
        })
    }
}

/// Decoded query pairs, in order.
pub type Query = Vec<(String, String)>;

/// Splits a request target into decoded path segments and query pairs.
pub fn parse_target(target: &str) -> Result<(Vec<String>, Query), HttpError> {
    if !target.starts_with('/') {
        return Err(HttpError::bad("the request target must start with '/'"));
    }
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((percent_decode(k, true)?, percent_decode(v, true)?));
    }
    Ok((segments, pairs))
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); the result must be UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, HttpError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| HttpError::bad("malformed percent escape"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| HttpError::bad("percent-decoded text is not UTF-8"))
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Reads one request from `stream`, enforcing the size limits.
pub fn read_request(stream: &mut impl Read) -> Result<Request, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    // Where the search for the blank line resumes: a byte-at-a-time client costs linear time, not quadratic.
    let mut scanned = 0;
    let head_end = loop {
        if let Some(end) = find_head_end(&buf[scanned..]) {
            break scanned + end;
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HttpError::new(413, "request head too large"));
        }
        let n = stream
            .read(&mut chunk)
            .map_err(|e| HttpError::new(408, format!("cannot read the request: {e}")))?;
        if n == 0 {
            return Err(HttpError::bad(
                "connection closed before the end of the head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD_BYTES {
        return Err(HttpError::new(413, "request head too large"));
    }
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| HttpError::bad("the request head is not UTF-8"))?
        .to_string();
    let mut body = buf[head_end + 4..].to_vec();
    let mut request = Request::parse(&head, Vec::new())?;
    if request
        .header("transfer-encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return Err(HttpError::new(
            411,
            "chunked bodies are not supported; send Content-Length",
        ));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| HttpError::bad("malformed Content-Length"))?,
    };
    if length > MAX_BODY_BYTES {
        return Err(HttpError::new(
            413,
            format!("request body larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    if body.len() > length {
        body.truncate(length);
    }
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        let n = stream
            .read(&mut chunk[..want])
            .map_err(|e| HttpError::new(408, format!("cannot read the request body: {e}")))?;
        if n == 0 {
            return Err(HttpError::bad(
                "connection closed before the end of the body",
            ));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    request.body = body;
    Ok(request)
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a body of `content_type`.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Self::new(status, "application/json", body)
    }

    /// A JSON error `{"error": message}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, &serde_json::json!({ "error": message }))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Writes the response; `head_only` leaves the body out (for HEAD).
    pub fn write_to(&self, out: &mut impl Write, head_only: bool) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
             X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (k, v) in &self.headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        if !head_only {
            out.write_all(&self.body)?;
        }
        out.flush()
    }
}

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_paths_and_queries() {
        let (segs, q) =
            parse_target("/api/models/a%20b%2Fc?filter=x+%3D+1&flag&k=%E2%9C%93").unwrap();
        assert_eq!(segs, ["api", "models", "a b/c"]);
        assert_eq!(
            q,
            [
                ("filter".to_string(), "x = 1".to_string()),
                ("flag".to_string(), String::new()),
                ("k".to_string(), "✓".to_string())
            ]
        );
        assert_eq!(parse_target("/").unwrap().0, Vec::<String>::new());
        for bad in ["api", "/a%", "/a%zz", "/a%ff", "/?x=%4"] {
            assert_eq!(parse_target(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn reads_requests_with_limits() {
        let raw = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcdef";
        let r = read_request(&mut &raw[..]).unwrap();
        assert_eq!(r.method, "POST");
        // The blank line split across reads is still found.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let Some((&b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = b;
                self.0 = rest;
                Ok(1)
            }
        }
        let t = read_request(&mut Trickle(raw)).unwrap();
        assert_eq!(t.body, b"abc");
        assert_eq!(t.header("host"), Some("h"));
        assert_eq!(r.body, b"abc");
        assert_eq!(r.header("HOST"), Some("h"));

        let big = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES + 10));
        assert_eq!(read_request(&mut big.as_bytes()).unwrap_err().status, 413);
        let body = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert_eq!(read_request(&mut body.as_bytes()).unwrap_err().status, 413);
        for bad in [
            &b"GET\r\n\r\n"[..],
            b"GET / HTTP/1.1 x\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
            b"GET / HTTP/1.1\r\n",
            b"\xff\xfe / HTTP/1.1\r\n\r\n",
        ] {
            let e = read_request(&mut &bad[..]).unwrap_err();
            assert_eq!(e.status, 400, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
