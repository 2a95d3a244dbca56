//! Run search page tokens: the sort key of the previous page's last run (see [`super::keyset`]) and
//! a fingerprint of the query, hex-encoded JSON, opaque to clients that pass them back unchanged.
//!
//! A key value is written as `null`, `{"s": text}`, `{"i": integer}` or `{"f": "<16 hex digits>"}`
//! (a real by its IEEE 754 bits, so that infinities and every digit survive the trip).

use serde_json::{json, Value};

use super::compile::SqlValue;
use super::error::SearchError;

/// Encodes the sort key `key` of a page's last run, for the query with `fingerprint`.
pub(crate) fn encode_cursor_token(fingerprint: u64, key: &[Option<SqlValue>]) -> String {
    let values: Vec<Value> = key
        .iter()
        .map(|v| match v {
            None => Value::Null,
            Some(SqlValue::Text(s)) => json!({ "s": s }),
            Some(SqlValue::Integer(i)) => json!({ "i": i }),
            Some(SqlValue::Real(f)) => json!({ "f": format!("{:016x}", f.to_bits()) }),
        })
        .collect();
    let doc = json!({ "after": values, "query": format!("{fingerprint:016x}") }).to_string();
    doc.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a token of [`encode_cursor_token`] made for the query with `fingerprint`: the sort key
/// after which the page starts. The caller checks that the key fits the query's order.
pub(crate) fn decode_cursor_token(
    token: &str,
    fingerprint: u64,
) -> Result<Vec<Option<SqlValue>>, SearchError> {
    let bad = |why: &str| SearchError::InvalidPageToken(why.to_string());
    let not_ours = || bad("not a token produced by search_runs");
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(not_ours());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| not_ours())?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    if doc.get("offset").is_some() {
        return Err(bad(
            "an offset token of an earlier hpo version, which pages by sort key now; \
             start the search again from the first page",
        ));
    }
    if doc.get("query").and_then(Value::as_str) != Some(&format!("{fingerprint:016x}")) {
        return Err(bad("the token belongs to a different query"));
    }
    let values = doc
        .get("after")
        .and_then(Value::as_array)
        .ok_or_else(not_ours)?;
    values
        .iter()
        .map(|v| decode_value(v).ok_or_else(|| bad("a malformed sort key")))
        .collect()
}

/// One key value (`None` inside: NULL); `None` when malformed.
fn decode_value(v: &Value) -> Option<Option<SqlValue>> {
    if v.is_null() {
        return Some(None);
    }
    let obj = v.as_object().filter(|o| o.len() == 1)?;
    let (kind, v) = obj.iter().next()?;
    let value = match kind.as_str() {
        "s" => SqlValue::Text(v.as_str()?.to_string()),
        "i" => SqlValue::Integer(v.as_i64()?),
        "f" => {
            let hex = v.as_str().filter(|h| h.len() == 16)?;
            let f = f64::from_bits(u64::from_str_radix(hex, 16).ok()?);
            // NaN is never a key (a NaN metric is missing), and NaN would compare with nothing
            if f.is_nan() {
                return None;
            }
            SqlValue::Real(f)
        }
        _ => return None,
    };
    Some(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::search::encode_page_token;

    #[test]
    fn a_key_survives_the_trip() {
        let key = vec![
            Some(SqlValue::Real(f64::INFINITY)),
            Some(SqlValue::Real(-0.1 + 0.2)),
            None,
            Some(SqlValue::Text("a \"quoted\" é\n".into())),
            Some(SqlValue::Integer(i64::MIN)),
        ];
        let t = encode_cursor_token(7, &key);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_cursor_token(&t, 7), Ok(key));
    }

    #[test]
    fn foreign_old_and_forged_tokens_are_refused() {
        let t = encode_cursor_token(7, &[Some(SqlValue::Integer(1))]);
        let reason = |r: Result<_, SearchError>| match r {
            Err(SearchError::InvalidPageToken(why)) => why,
            other => panic!("not refused: {other:?}"),
        };
        assert!(reason(decode_cursor_token(&t, 8)).contains("different query"));
        assert!(reason(decode_cursor_token(&encode_page_token(4000, 7), 7)).contains("offset"));
        for forged in ["", "zz", "abc", "é1", "7b7d", "5b5d"] {
            reason(decode_cursor_token(forged, 7));
        }
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let q = "\"query\":\"0000000000000007\"";
        for after in [
            "1",
            "[1]",
            "[{\"x\":1}]",
            "[{\"i\":1.5}]",
            "[{\"f\":\"7ff8000000000000\"}]",
            "[{\"f\":\"123\"}]",
            "[{\"s\":1,\"i\":2}]",
        ] {
            let why = reason(decode_cursor_token(
                &hex(&format!("{{\"after\":{after},{q}}}")),
                7,
            ));
            assert!(!why.is_empty(), "{after}");
        }
        assert_eq!(
            decode_cursor_token(&hex(&format!("{{\"after\":[],{q}}}")), 7),
            Ok(Vec::new())
        );
    }
}
