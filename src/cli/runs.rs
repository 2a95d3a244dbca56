//! `hpo runs list|show|delete|restore` and `hpo best`.

use std::collections::{BTreeSet, HashMap};

use clap::{Args, Subcommand};
use serde::Serialize;

use super::experiments::find;
use super::open_tracker_to_read;
use super::output::{duration, json, num, table, time};
use crate::tracking::recorder::{STATE_PRUNED, TAG_METRIC, TAG_RUN_TYPE, TAG_STATE};
use crate::tracking::{Run, RunsQuery, Tracker, ViewType};

/// Run commands.
#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// List runs, trials shown under their study.
    List(ListArgs),
    /// Show one run: params, metrics (latest, min, max, history length), tags, artifacts.
    Show {
        /// The run id.
        run_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a run and its descendants (a study's trials); it can be restored, or removed for
    /// good with `hpo gc`.
    Delete {
        /// The run id.
        run_id: String,
    },
    /// Restore a deleted run and the descendants deleted with it.
    Restore {
        /// The run id.
        run_id: String,
    },
}

/// Arguments of `runs list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only runs of this experiment (name or id).
    #[arg(long, short)]
    pub experiment: Option<String>,
    /// A filter, e.g. "metrics.rmse < 7 and params.penalty = 'l2'".
    #[arg(long, short, default_value = "")]
    pub filter: String,
    /// Sort keys, e.g. "metrics.rmse ASC" (repeatable; nulls last).
    #[arg(long = "order-by", short = 'o')]
    pub order_by: Vec<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = 100)]
    pub max_results: usize,
    /// Continue from a page token printed by an earlier call.
    #[arg(long)]
    pub page_token: Option<String>,
    /// Include deleted runs.
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `best`.
#[derive(Args, Debug)]
pub struct BestArgs {
    /// The experiment (name or id).
    #[arg(long, short)]
    pub experiment: String,
    /// The metric (default: the metric its studies recorded, else `loss`).
    #[arg(long)]
    pub metric: Option<String>,
    /// Larger is better.
    #[arg(long)]
    pub maximize: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(cmd: RunsCommand, uri: &Option<String>) -> anyhow::Result<()> {
    // every runs command needs runs: a missing store is an error, never created
    let tracker = open_tracker_to_read(uri)?;
    match cmd {
        RunsCommand::List(a) => list(&tracker, a),
        RunsCommand::Show {
            run_id,
            json: as_json,
        } => show(&tracker, &run_id, as_json),
        RunsCommand::Delete { run_id } => {
            tracker.delete_run(&run_id)?;
            println!("deleted run {run_id}");
            Ok(())
        }
        RunsCommand::Restore { run_id } => {
            tracker.restore_run(&run_id)?;
            println!("restored run {run_id}");
            Ok(())
        }
    }
}

/// Metric columns to show: the study metrics first, then the most common others (at most 4).
fn metric_columns(runs: &[Run]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    let mut first: Vec<String> = Vec::new();
    for r in runs {
        if let Some(m) = r.data.tag(TAG_METRIC) {
            if !first.iter().any(|f| f == m) {
                first.push(m.to_string());
            }
        }
        for m in &r.data.metrics {
            *count.entry(m.key.as_str()).or_default() += 1;
        }
    }
    let mut rest: Vec<(&str, usize)> = count
        .into_iter()
        .filter(|(k, _)| !first.iter().any(|f| f == k) && *k != "duration_s")
        .collect();
    rest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    first.extend(rest.into_iter().map(|(k, _)| k.to_string()));
    first.truncate(4);
    first
}

fn row(r: &Run, indent: bool, metrics: &[String]) -> Vec<String> {
    let dur = r
        .info
        .end_time
        .map(|e| duration((e - r.info.start_time) as f64 / 1000.0))
        .unwrap_or_default();
    let name = if indent {
        format!("  └ {}", r.info.run_name)
    } else {
        r.info.run_name.clone()
    };
    let mut v = vec![
        r.info.run_id.clone(),
        name,
        // a pruned trial is KILLED for MLflow clients; hpo shows what it is
        if r.data.tag(TAG_STATE) == Some(STATE_PRUNED) {
            STATE_PRUNED.to_string()
        } else {
            r.info.status.to_string()
        },
        time(r.info.start_time),
        dur,
    ];
    for m in metrics {
        v.push(r.data.metric(m).map(|s| num(s.latest)).unwrap_or_default());
    }
    v
}

fn list(tracker: &Tracker, a: ListArgs) -> anyhow::Result<()> {
    let exps = match &a.experiment {
        Some(e) => vec![find(tracker, e)?.experiment_id],
        None => Vec::new(),
    };
    let query = RunsQuery::new(&exps, &a.filter)
        .order_by(&a.order_by)
        .max_results(a.max_results)
        .view(if a.all {
            ViewType::All
        } else {
            ViewType::ActiveOnly
        })
        .page_token(a.page_token.clone());
    let page = tracker.search_runs(&query)?;
    if a.json {
        #[derive(Serialize)]
        struct Page<'a> {
            runs: &'a [Run],
            next_page_token: &'a Option<String>,
        }
        return json(&Page {
            runs: &page.runs,
            next_page_token: &page.next_page_token,
        });
    }
    // trials under their study: a run whose parent is in the page follows its parent, in the
    // page's order; the others stay where the order put them
    let ids: BTreeSet<&str> = page.runs.iter().map(|r| r.info.run_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&Run>> = HashMap::new();
    for r in &page.runs {
        if let Some(p) = r.info.parent_run_id.as_deref().filter(|p| ids.contains(p)) {
            children.entry(p).or_default().push(r);
        }
    }
    let metrics = metric_columns(&page.runs);
    let mut rows = Vec::new();
    fn walk<'a>(
        r: &'a Run,
        depth: usize,
        children: &HashMap<&str, Vec<&'a Run>>,
        metrics: &[String],
        rows: &mut Vec<Vec<String>>,
    ) {
        rows.push(row(r, depth > 0, metrics));
        if let Some(kids) = children.get(r.info.run_id.as_str()) {
            for k in kids {
                walk(k, depth + 1, children, metrics, rows);
            }
        }
    }
    for r in &page.runs {
        let nested = r
            .info
            .parent_run_id
            .as_deref()
            .is_some_and(|p| ids.contains(p));
        if !nested {
            walk(r, 0, &children, &metrics, &mut rows);
        }
    }
    let mut headers = vec!["RUN ID", "NAME", "STATUS", "START", "DURATION"];
    headers.extend(metrics.iter().map(|m| m.as_str()));
    print!("{}", table(&headers, &rows));
    if let Some(t) = &page.next_page_token {
        // the table is on standard output: flush it first so the hint comes after it, on a
        // line of its own
        use std::io::Write;
        let _ = std::io::stdout().flush();
        eprintln!(
            "\nmore runs: repeat with --page-token {}",
            super::quote::shell_quote(t)
        );
    }
    Ok(())
}

/// How many lines of a multi-line tag (a failure reason with a traceback) `runs show` prints:
/// the last ones, where the error is.
const TAG_TAIL_LINES: usize = 20;

fn show(tracker: &Tracker, run_id: &str, as_json: bool) -> anyhow::Result<()> {
    let run = tracker.get_run(run_id)?;
    let artifacts = {
        let store = tracker.artifacts(run_id)?;
        let mut all = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(d) = dirs.pop() {
            for a in store.list(&d).unwrap_or_default() {
                if a.is_dir {
                    dirs.push(a.path.clone());
                } else {
                    all.push(a);
                }
            }
        }
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all
    };
    let children = tracker.child_runs(run_id)?.len();
    if as_json {
        #[derive(Serialize)]
        struct Show<'a> {
            run: &'a Run,
            children: usize,
            artifacts: &'a [crate::tracking::ArtifactInfo],
        }
        return json(&Show {
            run: &run,
            children,
            artifacts: &artifacts,
        });
    }
    let i = &run.info;
    println!("run        {}", i.run_id);
    println!("name       {}", i.run_name);
    println!("status     {}", i.status);
    println!("experiment {}", i.experiment_id);
    println!("start      {}", time(i.start_time));
    if let Some(e) = i.end_time {
        println!(
            "end        {} ({})",
            time(e),
            duration((e - i.start_time) as f64 / 1000.0)
        );
    }
    if let Some(p) = &i.parent_run_id {
        println!("parent     {p}");
    }
    if children > 0 {
        println!("children   {children}");
    }
    println!("artifacts  {}", i.artifact_uri);
    if !run.data.params.is_empty() {
        println!("\nparams");
        let rows: Vec<Vec<String>> = run
            .data
            .params
            .iter()
            .map(|p| vec![format!("  {}", p.key), p.value.clone()])
            .collect();
        print!("{}", table(&["  KEY", "VALUE"], &rows));
    }
    if !run.data.metrics.is_empty() {
        println!("\nmetrics");
        let rows: Vec<Vec<String>> = run
            .data
            .metrics
            .iter()
            .map(|m| {
                vec![
                    format!("  {}", m.key),
                    num(m.latest),
                    m.min.map(num).unwrap_or_default(),
                    m.max.map(num).unwrap_or_default(),
                    m.count.to_string(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(&["  KEY", "LATEST", "MIN", "MAX", "POINTS"], &rows)
        );
    }
    if !run.data.tags.is_empty() {
        println!("\ntags");
        let rows: Vec<Vec<String>> = run
            .data
            .tags
            .iter()
            .map(|t| {
                let lines: Vec<&str> = t.value.trim_end().lines().collect();
                let value = match lines.as_slice() {
                    [] => String::new(),
                    [one] => one.to_string(),
                    // the last line is where an error says what went wrong
                    [.., last] => format!("{last}  ({} lines, below)", lines.len()),
                };
                vec![format!("  {}", t.key), value]
            })
            .collect();
        print!("{}", table(&["  KEY", "VALUE"], &rows));
        for t in &run.data.tags {
            let lines: Vec<&str> = t.value.trim_end().lines().collect();
            if lines.len() < 2 {
                continue;
            }
            let shown = &lines[lines.len().saturating_sub(TAG_TAIL_LINES)..];
            if shown.len() < lines.len() {
                println!(
                    "\n{} (last {} of {} lines)",
                    t.key,
                    shown.len(),
                    lines.len()
                );
            } else {
                println!("\n{}", t.key);
            }
            for l in shown {
                println!("    {l}");
            }
        }
    }
    if !artifacts.is_empty() {
        println!("\nartifact files");
        for a in &artifacts {
            println!("  {} ({} bytes)", a.path, a.file_size.unwrap_or(0));
        }
    }
    Ok(())
}

/// The best finished trial run of an experiment by a metric.
pub(crate) fn best_run(
    tracker: &Tracker,
    experiment: &str,
    metric: Option<&str>,
    maximize: bool,
) -> anyhow::Result<(Run, String)> {
    let exp = find(tracker, experiment)?;
    let metric = match metric {
        Some(m) => m.to_string(),
        None => {
            let studies = tracker.search_runs(
                &RunsQuery::new(
                    &[exp.experiment_id],
                    &format!("tags.`{TAG_RUN_TYPE}` = 'study'"),
                )
                .order_by(&["attributes.start_time DESC"])
                .max_results(1),
            )?;
            studies
                .runs
                .first()
                .and_then(|r| r.data.tag(TAG_METRIC).map(String::from))
                .unwrap_or_else(|| "loss".into())
        }
    };
    let order = format!(
        "metrics.`{metric}` {}",
        if maximize { "DESC" } else { "ASC" }
    );
    // Study runs are skipped here rather than in the filter: `tags.x != 'study'` leaves out runs
    // without the tag, such as those an MLflow client logged.
    let mut token = None;
    let found = loop {
        let page = tracker.search_runs(
            &RunsQuery::new(
                &[exp.experiment_id],
                &format!("attributes.status = 'FINISHED' and metrics.`{metric}` IS NOT NULL"),
            )
            .order_by(&[order.as_str()])
            .max_results(100)
            .page_token(token),
        )?;
        if let Some(r) = page
            .runs
            .into_iter()
            .find(|r| r.data.tag(TAG_RUN_TYPE) != Some("study"))
        {
            break Some(r);
        }
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break None,
        }
    };
    match found {
        Some(r) => Ok((r, metric)),
        None => Err(super::BadInput(format!(
            "experiment '{}' has no finished run with metric '{metric}'",
            exp.name
        ))
        .into()),
    }
}

pub(crate) fn best(a: BestArgs, uri: &Option<String>) -> anyhow::Result<()> {
    let tracker = open_tracker_to_read(uri)?;
    let (run, metric) = best_run(&tracker, &a.experiment, a.metric.as_deref(), a.maximize)?;
    if a.json {
        return json(&run);
    }
    let value = run
        .data
        .metric(&metric)
        .map(|m| m.latest)
        .unwrap_or(f64::NAN);
    println!("best run   {} ({})", run.info.run_id, run.info.run_name);
    println!("{metric:<10} {}", num(value));
    for p in &run.data.params {
        println!("  {} = {}", p.key, p.value);
    }
    Ok(())
}
