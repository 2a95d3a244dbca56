//! hpo's memory stays bounded whatever a trial prints: a 400 MB line on standard output and
//! 100 MB on standard error cost `hpo run` far less than the output itself. (Its own test binary,
//! so the children's peak resident size read with getrusage is hpo's alone.)

use std::process::Command;

#[test]
fn a_huge_output_costs_hpo_bounded_memory_and_a_capped_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loud.toml");
    let script = "head -c 400000000 /dev/zero | tr '\\0' x; echo; \
                  head -c 100000000 /dev/zero | tr '\\0' y >&2; echo 0.5; exit 1";
    std::fs::write(
        &file,
        format!(
            "[study]\nmax_evals = 1\n[objective]\ncommand = [\"sh\", \"-c\", {script:?}]\n\
             output_limit = \"1MB\"\n[space]\nx = {{ uniform = [0, 1] }}\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", "-q", "--json"])
        .arg(&file)
        .env(
            "HPO_TRACKING_URI",
            format!("sqlite:///{}", dir.path().join("h.db").display()),
        )
        .output()
        .unwrap();
    // the trial failed (exit 1), so its output is kept, capped
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SAFETY: getrusage fills the struct.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let peak_mb = usage.ru_maxrss as f64 / 1024.0;
    assert!(
        peak_mb < 100.0,
        "hpo peaked at {peak_mb:.0} MB for 500 MB of output"
    );
    let mut kept = Vec::new();
    for e in walk(dir.path()) {
        let name = e
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if name == "stdout.txt" || name == "stderr.txt" {
            kept.push((name, std::fs::metadata(&e).unwrap().len()));
        }
    }
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    for (name, len) in &kept {
        assert!(
            *len > 1_000_000 && *len < 1_000_200,
            "{name}: {len} bytes kept"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
