//! Durations in run files: `"90s"`, `"10m"`, `"1h30m"`, `"500ms"`, `"1.5h"`, or a number of
//! seconds.

use std::time::Duration;

/// The units a duration string may use, with their length in seconds.
const UNITS: [(&str, f64); 4] = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];

/// What a valid duration looks like, for error messages.
pub const DURATION_HELP: &str =
    "expected a duration such as \"90s\", \"10m\", \"1h30m\", \"500ms\" or a number of seconds";

/// Parse a duration string: one or more `<number><unit>` groups (units `h`, `m`, `s`, `ms`),
/// e.g. `"1h30m"`. The result must be positive.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{text}': {DURATION_HELP}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let amount: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = rest[digits..].trim_start();
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..letters];
        let Some((_, secs)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("invalid duration '{text}': a number in a string needs a unit (h, m, s or ms), or write it unquoted as a number of seconds")
            } else {
                format!("invalid duration '{text}': unknown unit '{unit}'; expected h, m, s or ms")
            });
        };
        total += amount * secs;
        rest = rest[letters..].trim_start();
    }
    seconds(total).map_err(|e| format!("invalid duration '{text}': {e}"))
}

/// A positive, finite number of seconds as a duration.
pub fn seconds(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("a duration must be positive, got {secs} seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{secs} seconds is too long"))
}

/// Display a duration compactly: `1h30m`, `90s` stays `1m30s`, `0.5s` as `500ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return format!("{}us", d.as_micros());
    }
    let (h, m, s, rest_ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s"), (rest_ms, "ms")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}
