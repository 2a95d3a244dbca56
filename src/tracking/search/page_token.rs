//! Opaque page tokens: an offset and a fingerprint of the query that produced them.

use super::error::SearchError;

/// A fingerprint of a query, so a page token is only accepted by the query that produced it.
pub fn query_fingerprint(parts: &[&str]) -> u64 {
    // FNV-1a: stable across processes and builds, unlike std's RandomState.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Encodes an offset and a query fingerprint as an opaque page token.
pub fn encode_page_token(offset: usize, fingerprint: u64) -> String {
    let json =
        serde_json::json!({ "offset": offset, "query": format!("{fingerprint:016x}") }).to_string();
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a page token produced by [`encode_page_token`] for the same query fingerprint.
pub fn decode_page_token(token: &str, fingerprint: u64) -> Result<usize, SearchError> {
    let bad = |why: &str| SearchError::InvalidPageToken(why.to_string());
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad("not a token produced by search_runs"));
    }
    let bytes: Result<Vec<u8>, _> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect();
    let bytes = bytes.map_err(|_| bad("not a token produced by search_runs"))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("not a token produced by search_runs"))?;
    let offset = v
        .get("offset")
        .and_then(|o| o.as_u64())
        .ok_or_else(|| bad("missing offset"))?;
    let query = v.get("query").and_then(|q| q.as_str()).unwrap_or_default();
    if query != format!("{fingerprint:016x}") {
        return Err(bad("the token belongs to a different query"));
    }
    usize::try_from(offset).map_err(|_| bad("offset out of range"))
}
