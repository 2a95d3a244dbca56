//! Hand-written SVG plots: median best-so-far regret against evaluations, one line per
//! optimizer with its interquartile band, on a log scale when every value is positive.

use std::fmt::Write;

/// One optimizer's curve: its name and (median, first quartile, third quartile) after each
/// evaluation (NaN where undefined, e.g. before the first successful trial).
pub struct Series {
    /// The optimizer.
    pub name: String,
    /// (median, q1, q3) per evaluation.
    pub points: Vec<(f64, f64, f64)>,
}

const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A tick label: plain for moderate numbers, 1e-3 style otherwise.
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&v.abs()) {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:e}")
    }
}

/// Evenly spaced "nice" ticks covering [lo, hi].
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-300);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// SVG points rounded to whole pixels, without the inner points of horizontal or vertical runs
/// (best-so-far curves are mostly flat, so this keeps the files small).
fn points(pts: &[(f64, f64)]) -> String {
    let r: Vec<(i64, i64)> = pts
        .iter()
        .map(|(x, y)| (x.round() as i64, y.round() as i64))
        .collect();
    let mut kept: Vec<(i64, i64)> = Vec::with_capacity(r.len());
    for (k, &p) in r.iter().enumerate() {
        if kept.last() == Some(&p) {
            continue;
        }
        let next = r.get(k + 1);
        let inner = match (kept.last(), next) {
            (Some(prev), Some(n)) => (prev.1 == p.1 && n.1 == p.1) || (prev.0 == p.0 && n.0 == p.0),
            _ => false,
        };
        if !inner {
            kept.push(p);
        }
    }
    kept.iter()
        .map(|(x, y)| format!("{x},{y}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SVG of `series` over `budget` evaluations, titled `title`, with `ylabel` on the y axis.
pub fn svg(title: &str, ylabel: &str, budget: usize, series: &[Series]) -> String {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|&(m, a, b)| [m, a, b]))
        .filter(|v| v.is_finite())
        .collect();
    let log = !values.is_empty() && values.iter().all(|&v| v > 0.0);
    let tf = |v: f64| if log { v.log10() } else { v };
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(tf(v)), h.max(tf(v)))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if log {
        lo = lo.floor();
        hi = hi.ceil();
        if hi <= lo {
            hi = lo + 1.0;
        }
    } else if hi - lo < 1e-12 {
        lo -= 0.5;
        hi += 0.5;
    }
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let xmax = budget.max(2) as f64;
    let px = |i: usize| LEFT + (i as f64 + 1.0 - 1.0) / (xmax - 1.0) * pw;
    let py = |v: f64| {
        let t = tf(v).clamp(lo, hi);
        TOP + (hi - t) / (hi - lo) * ph
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        LEFT + pw / 2.0,
        esc(title)
    );
    // y ticks and grid
    let yticks: Vec<f64> = if log {
        let decades = (hi - lo) as i64;
        let step = (decades / 8 + 1).max(1);
        (lo as i64..=hi as i64)
            .filter(|d| (d - lo as i64) % step == 0)
            .map(|d| 10f64.powi(d as i32))
            .collect()
    } else {
        nice_ticks(lo, hi, 6)
    };
    for t in yticks {
        let y = py(t);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            tick_label(t)
        );
    }
    // x ticks
    for t in nice_ticks(1.0, xmax, 8) {
        let x = LEFT + (t - 1.0) / (xmax - 1.0) * pw;
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#999"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            tick_label(t)
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">evaluations</text>"#,
        LEFT + pw / 2.0,
        H - 10.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}{}</text>"#,
        TOP + ph / 2.0,
        esc(ylabel),
        if log { " (log scale)" } else { "" }
    );
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let ok: Vec<(usize, (f64, f64, f64))> = s
            .points
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, (m, a, b))| m.is_finite() && a.is_finite() && b.is_finite())
            .collect();
        if !ok.is_empty() {
            let upper: Vec<(f64, f64)> = ok.iter().map(|(i, (_, _, b))| (px(*i), py(*b))).collect();
            let lower: Vec<(f64, f64)> = ok
                .iter()
                .rev()
                .map(|(i, (_, a, _))| (px(*i), py(*a)))
                .collect();
            let band = format!("{} {}", points(&upper), points(&lower));
            let _ = writeln!(
                out,
                r#"<polygon points="{band}" fill="{color}" fill-opacity="0.15" stroke="none"/>"#
            );
            let line: Vec<(f64, f64)> = ok.iter().map(|(i, (m, _, _))| (px(*i), py(*m))).collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8"/>"#,
                points(&line)
            );
        }
        let ly = TOP + 10.0 + 18.0 * k as f64;
        let lx = LEFT + pw + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            esc(&s.name)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#555">line: median; band: IQR</text>"##,
        LEFT + pw + 12.0,
        TOP + 10.0 + 18.0 * series.len() as f64 + 6.0
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_plot_has_decade_ticks_lines_bands_and_legend() {
        let s = Series {
            name: "a<b".into(),
            points: (1..=10)
                .map(|i| {
                    let m = 100.0 / i as f64;
                    (m, m / 2.0, m * 2.0)
                })
                .collect(),
        };
        let out = svg("branin", "regret", 10, &[s]);
        assert!(out.starts_with("<svg"));
        assert!(out.trim_end().ends_with("</svg>"));
        assert!(out.contains("(log scale)"));
        assert!(out.contains(">1000<") && out.contains(">10<") && out.contains(">1<"));
        assert!(out.contains("<polyline") && out.contains("<polygon"));
        assert!(out.contains("a&lt;b"));
    }

    #[test]
    fn flat_runs_keep_their_ends() {
        let p = [
            (1.0, 5.0),
            (2.0, 5.0),
            (3.0, 5.2),
            (4.0, 3.0),
            (5.0, 3.0),
            (5.0, 3.0),
        ];
        assert_eq!(points(&p), "1,5 3,5 4,3 5,3");
    }

    #[test]
    fn non_positive_values_give_a_linear_axis() {
        let s = Series {
            name: "x".into(),
            points: vec![
                (-1.0, -2.0, 0.0),
                (f64::NAN, f64::NAN, f64::NAN),
                (-3.0, -4.0, -2.0),
            ],
        };
        let out = svg("p", "best loss", 3, &[s]);
        assert!(!out.contains("log scale"));
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
    }
}
