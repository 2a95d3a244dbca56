//! Studies shared by many worker processes (issue 19), through the real binary: on PostgreSQL
//! (8 workers, one 400-trial study; workers killed with SIGKILL while the study runs) and on one
//! SQLite file (several processes of one machine), with `hpo worker --study NAME`; the result of
//! a study whose last worker was lost while ending it is written by the next worker.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::TempDb;
use hpo::tracking::recorder::{TAG_FAILURE_REASON, TAG_TRIAL_NUMBER};
use hpo::tracking::{Run, RunStatus, RunsQuery, Tracker};

fn write_study(dir: &Path, name: &str, max_evals: usize, command: &str, extra: &str) -> String {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"
[study]
name = "{name}"
max_evals = {max_evals}
parallelism = 2
{extra}

[objective]
command = {command}

[space]
x = {{ uniform = [0, 1] }}
"#
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

fn worker(uri: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .args(["--quiet", "--no-trial-server", "--tracking-uri", uri])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(mut child: Child) -> (Option<i32>, String) {
    child.wait_with_output_stderr()
}

trait WaitStderr {
    fn wait_with_output_stderr(&mut self) -> (Option<i32>, String);
}

impl WaitStderr for Child {
    fn wait_with_output_stderr(&mut self) -> (Option<i32>, String) {
        use std::io::Read;
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = self.wait().unwrap();
        (status.code(), err)
    }
}

/// The study runs of experiment `name` and their trial runs by number.
fn study_of(uri: &str, name: &str) -> (Vec<Run>, BTreeMap<usize, Vec<Run>>) {
    let t = Tracker::open(uri).unwrap();
    let exp = t.get_experiment_by_name(name).unwrap().unwrap();
    let runs = t
        .search_runs(&RunsQuery::new(&[exp.experiment_id], "").max_results(5000))
        .unwrap()
        .runs;
    let studies: Vec<Run> = runs
        .iter()
        .filter(|r| r.data.tag("hpo.runType") == Some("study"))
        .cloned()
        .collect();
    let mut trials: BTreeMap<usize, Vec<Run>> = BTreeMap::new();
    for r in runs
        .into_iter()
        .filter(|r| r.data.tag("hpo.runType") == Some("trial"))
    {
        let n = r.data.tag(TAG_TRIAL_NUMBER).unwrap().parse().unwrap();
        trials.entry(n).or_default().push(r);
    }
    (studies, trials)
}

#[test]
fn eight_workers_on_postgres_run_one_400_trial_study() {
    let Some(db) = TempDb::create("shared400") else {
        return;
    };
    let uri = db.url();
    let dir = tempfile::tempdir().unwrap();
    let file = write_study(dir.path(), "four", 400, r#"["echo", "{x}"]"#, "");
    let workers: Vec<Child> = (0..8).map(|_| worker(&uri, &["run", &file])).collect();
    for w in workers {
        let (code, err) = finish(w);
        assert_eq!(code, Some(0), "{err}");
    }
    let (studies, trials) = study_of(&uri, "four");
    assert_eq!(studies.len(), 1, "one study for all workers");
    let study = &studies[0];
    assert_eq!(study.info.status, RunStatus::Finished);
    assert_eq!(
        trials.keys().copied().collect::<Vec<_>>(),
        (0..400).collect::<Vec<_>>()
    );
    for (n, runs) in &trials {
        assert_eq!(runs.len(), 1, "trial {n} recorded once");
        let r = &runs[0];
        assert_eq!(r.info.status, RunStatus::Finished, "trial {n}");
        assert_eq!(r.info.parent_run_id.as_deref(), Some(&*study.info.run_id));
    }
    // the study's result is over every worker's trials
    assert_eq!(study.data.metric("n_trials").map(|m| m.latest), Some(400.0));
    let best = trials
        .values()
        .map(|r| r[0].data.metric("loss").unwrap().latest)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(study.data.metric("best_loss").map(|m| m.latest), Some(best));
    // every worker took part
    let mut c = postgres::Client::connect(&uri, postgres::NoTls).unwrap();
    let workers: i64 = c
        .query_one("SELECT COUNT(DISTINCT worker) FROM study_trials", &[])
        .unwrap()
        .get(0);
    assert!(workers >= 2, "{workers} workers ran trials");
}

#[test]
fn processes_sharing_one_sqlite_file_run_one_study_and_a_worker_joins_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let file = write_study(
        dir.path(),
        "local",
        60,
        r#"["sh", "-c", "sleep 0.05; echo \"$1\"", "sh", "{x}"]"#,
        "",
    );
    let first = worker(&uri, &["run", &file]);
    // `hpo worker` needs only the store and the name: it waits for nothing else
    let deadline = Instant::now() + Duration::from_secs(30);
    while Tracker::open(&uri)
        .ok()
        .and_then(|t| t.get_experiment_by_name("local").ok().flatten())
        .is_none()
    {
        assert!(Instant::now() < deadline, "the first worker never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let others: Vec<Child> = (0..2)
        .map(|_| worker(&uri, &["worker", "--study", "local"]))
        .collect();
    let second_run = worker(&uri, &["run", &file]);
    for w in std::iter::once(first).chain(others).chain([second_run]) {
        let (code, err) = finish(w);
        assert_eq!(code, Some(0), "{err}");
    }
    let (studies, trials) = study_of(&uri, "local");
    assert_eq!(studies.len(), 1);
    assert_eq!(studies[0].info.status, RunStatus::Finished);
    assert_eq!(
        trials.keys().copied().collect::<Vec<_>>(),
        (0..60).collect::<Vec<_>>()
    );
    assert!(trials.values().all(|r| r.len() == 1));
    // a study that ended takes no more workers: a new `hpo run` starts a new one
    let (code, err) = finish(worker(&uri, &["worker", "--study", "local"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("has ended"), "{err}");
}

#[test]
fn killed_workers_trials_fail_as_worker_lost_and_are_retried_and_the_study_completes() {
    let Some(db) = TempDb::create("sharedkill") else {
        return;
    };
    let uri = db.url();
    let dir = tempfile::tempdir().unwrap();
    let file = write_study(
        dir.path(),
        "kills",
        150,
        r#"["sh", "-c", "sleep 0.4; echo \"$1\"", "sh", "{x}"]"#,
        "retries = 1",
    );
    let mut pool: Vec<Child> = (0..3).map(|_| worker(&uri, &["run", &file])).collect();
    // the kills start once the study runs (a loaded machine may take a while to start 3
    // processes); a `hpo worker` started before its study exists is refused
    let mut c = postgres::Client::connect(&uri, postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while c
        .query_opt("SELECT 1 FROM study_trials LIMIT 1", &[])
        .ok()
        .flatten()
        .is_none()
    {
        assert!(Instant::now() < deadline, "the study never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c);
    let mut killed = 0;
    let mut rng = 12345u64;
    while killed < 10 {
        std::thread::sleep(Duration::from_millis(700));
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = (rng >> 33) as usize % pool.len();
        let mut victim = pool.swap_remove(i);
        if victim.try_wait().unwrap().is_some() {
            break; // the study is over
        }
        victim.kill().unwrap(); // SIGKILL: the worker's trials are left running
        victim.wait().unwrap();
        killed += 1;
        // a worker that comes after the study ended starts nothing
        pool.push(worker(&uri, &["worker", "--study", "kills"]));
    }
    for w in pool {
        let (code, err) = finish(w);
        assert_eq!(code, Some(0), "{err}");
    }
    assert!(
        killed >= 5,
        "only {killed} workers were killed before the end"
    );
    let (studies, trials) = study_of(&uri, "kills");
    assert_eq!(studies.len(), 1);
    assert_eq!(studies[0].info.status, RunStatus::Finished);
    assert!(
        trials.values().all(|r| r.len() == 1),
        "no trial recorded twice"
    );
    let mut c = postgres::Client::connect(&uri, postgres::NoTls).unwrap();
    let rows = c
        .query(
            "SELECT number, state, message, retry_of, params, run_uuid FROM study_trials
             ORDER BY number",
            &[],
        )
        .unwrap();
    let numbers: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        numbers,
        (0..150).collect::<Vec<_>>(),
        "numbers 0-149 once each"
    );
    // a worker killed between claiming a number and creating its run leaves no run
    for r in &rows {
        let n: i64 = r.get(0);
        if !trials.contains_key(&(n as usize)) {
            assert_eq!(r.get::<_, Option<String>>(5), None, "trial {n}");
            assert_eq!(r.get::<_, String>(1), "FAILED", "trial {n}");
        }
    }
    let mut lost = BTreeSet::new();
    let mut params = BTreeMap::new();
    for r in &rows {
        let (n, state): (i64, String) = (r.get(0), r.get(1));
        assert_ne!(state, "RUNNING", "trial {n} left running");
        if state == "FAILED" {
            assert_eq!(
                r.get::<_, Option<String>>(2).as_deref(),
                Some("worker lost")
            );
            lost.insert(n);
            // its run, when it had one, says so too
            if let Some(run) = trials.get(&(n as usize)).map(|r| &r[0]) {
                assert_eq!(run.info.status, RunStatus::Failed);
                assert_eq!(run.data.tag(TAG_FAILURE_REASON), Some("worker lost"));
            }
        } else {
            assert_eq!(state, "OK", "trial {n}");
        }
        params.insert(n, r.get::<_, Option<String>>(4));
    }
    assert!(!lost.is_empty(), "killed workers lost trials");
    // retries: the same params under a new number, at most one per lost trial
    let mut retried = BTreeSet::new();
    for r in &rows {
        if let Some(of) = r.get::<_, Option<i64>>(3) {
            assert!(
                lost.contains(&of),
                "a retry of trial {of}, which was not lost"
            );
            assert!(retried.insert(of), "trial {of} retried twice");
            assert_eq!(params[&r.get::<_, i64>(0)], params[&of]);
        }
    }
}

#[test]
fn a_seeded_study_alone_on_its_store_suggests_what_the_library_does() {
    // the shared protocol changes nothing for a study that no other worker joins: same seed and
    // parallelism, the same trials as the library's reproducible fmin, however long each trial
    // takes (here trials with a negative x sleep, so later trials often finish first)
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let file = dir.path().join("seeded.toml");
    std::fs::write(
        &file,
        r#"
[study]
name = "seeded"
max_evals = 50
parallelism = 3
seed = 7

[objective]
command = ["sh", "-c", "case $1 in -*) sleep 0.2;; esac; echo $1", "sh", "{x}"]

[space]
x = { uniform = [-5, 10] }
"#,
    )
    .unwrap();
    let (code, err) = finish(worker(&uri, &["run", file.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{err}");
    let (_, trials) = study_of(&uri, "seeded");
    let recorded: Vec<(usize, String)> = trials
        .iter()
        .map(|(n, r)| (*n, r[0].data.param("x").unwrap().to_string()))
        .collect();
    let space = hpo::Space::from_params([hpo::hp::uniform("x", -5.0, 10.0)]).unwrap();
    let r = hpo::Fmin::new(|p: &hpo::Params| p.f64("x"), &space)
        .algo(hpo::Tpe::default())
        .seed(7)
        .parallelism(3)
        .max_evals(50)
        .run()
        .unwrap();
    let expected: Vec<(usize, String)> = r
        .trials
        .iter()
        .map(|t| (t.number, t.params.get("x").unwrap().to_string()))
        .collect();
    assert_eq!(recorded, expected);
}

#[test]
fn a_study_is_joined_only_with_its_own_search_space() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let slow = r#"["sh", "-c", "sleep 0.2; echo \"$1\"", "sh", "{x}"]"#;
    let file = write_study(dir.path(), "space", 12, slow, "");
    let first = worker(&uri, &["run", &file]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Tracker::open(&uri)
        .ok()
        .and_then(|t| t.get_experiment_by_name("space").ok().flatten())
        .is_none()
    {
        assert!(Instant::now() < deadline, "the first worker never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("uniform = [0, 1]", "uniform = [0, 2]"),
    )
    .unwrap();
    let (code, err) = finish(worker(&uri, &["run", other.to_str().unwrap()]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("another search space"), "{err}");
    let (code, err) = finish(first);
    assert_eq!(code, Some(0), "{err}");
    let (studies, trials) = study_of(&uri, "space");
    assert_eq!(studies.len(), 1);
    assert_eq!(trials.len(), 12);
}

/// The state a worker leaves when it is killed right after ending a study and before writing
/// the study's result: every trial finished in the board and in its run, the board's study ended
/// by that worker, the study's run still RUNNING without a best trial.
fn orphaned_study(uri: &str, file: &str, losses: &[f64]) -> String {
    use hpo::tracking::shared::{worker_name, NewSharedStudy, TrialEnd};
    use hpo::tracking::{Metric, NewRun, Param, RunTag};
    let t = Tracker::open(uri).unwrap();
    let exp = t.get_or_create_experiment("orphan").unwrap();
    let board = t.store().study_board().unwrap();
    let id = format!("{:032x}", 0x0fa4u32);
    let spec = serde_json::json!({
        "run_file": std::fs::read_to_string(file).unwrap(),
        "path": file, "algo": "tpe", "seed": null, "experiment": "orphan",
    });
    let new = NewSharedStudy {
        study_run_id: id.clone(),
        max_evals: losses.len() as i64,
        retries: 0,
        spec: spec.to_string(),
    };
    assert!(board.join(exp, "orphan", &new).unwrap().1);
    let tag = |k: &str, v: &str| RunTag::new(k, v);
    t.create_run_with(NewRun {
        run_id: Some(id.clone()),
        experiment_id: exp,
        run_name: Some("orphan".into()),
        parent_run_id: None,
        user_id: None,
        start_time: None,
        tags: vec![tag("hpo.runType", "study"), tag("hpo.metric", "loss")],
        params: vec![],
    })
    .unwrap();
    // a worker of this host whose process is gone
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let me = worker_name();
    let host = me.rsplitn(3, ':').nth(2).unwrap();
    let dead = format!("{host}:{pid}:0badc0de");
    for (n, &x) in losses.iter().enumerate() {
        let c = board.claim(&id, &dead, Duration::from_secs(60)).unwrap();
        assert_eq!(c.unwrap().number, n as i64);
        let run = t
            .create_run_with(NewRun {
                run_id: None,
                experiment_id: exp,
                run_name: Some(format!("trial-{n}")),
                parent_run_id: Some(id.clone()),
                user_id: None,
                start_time: None,
                tags: vec![
                    tag("hpo.runType", "trial"),
                    tag(TAG_TRIAL_NUMBER, &n.to_string()),
                ],
                params: vec![Param::new("x", x.to_string())],
            })
            .unwrap()
            .run_id;
        board
            .start(&id, &dead, n as i64, Some(&run), &format!("{{\"x\": {x}}}"))
            .unwrap();
        t.log_batch(&run, &[], &[Metric::new("loss", x, 0)], &[])
            .unwrap();
        t.set_terminated(&run, RunStatus::Finished, None).unwrap();
        let end = TrialEnd {
            state: "OK".into(),
            loss: Some(x),
            last_step: None,
            message: None,
            ended_ms: 1,
        };
        assert!(board.finish(&id, n as i64, &end).unwrap());
    }
    t.flush().unwrap();
    assert!(board.close(&id, &dead, true, "max_evals reached").unwrap());
    id
}

#[test]
fn a_study_whose_closer_died_before_writing_its_result_is_finished_by_the_next_worker() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    let file = write_study(dir.path(), "orphan", 4, r#"["echo", "{x}"]"#, "");
    let id = orphaned_study(&uri, &file, &[0.7, 0.2, 0.9, 0.4]);
    let t = Tracker::open(&uri).unwrap();
    assert_eq!(t.get_run(&id).unwrap().info.status, RunStatus::Running);
    // `hpo worker` of the ended study writes its result instead of leaving it RUNNING
    let (code, err) = finish(worker(&uri, &["worker", "--study", "orphan"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("its result is recorded now"), "{err}");
    let study = t.get_run(&id).unwrap();
    assert_eq!(study.info.status, RunStatus::Finished);
    assert_eq!(study.data.tag("hpo.bestTrial"), Some("1"));
    assert_eq!(study.data.tag("hpo.stopReason"), Some("max_evals reached"));
    assert_eq!(study.data.metric("best_loss").map(|m| m.latest), Some(0.2));
    assert_eq!(study.data.metric("n_trials").map(|m| m.latest), Some(4.0));
    // once: the next worker finds nothing pending, and `hpo run` starts a new study
    let (code, err) = finish(worker(&uri, &["worker", "--study", "orphan"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("recorded now"), "{err}");
    let (code, err) = finish(worker(&uri, &["run", &file]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("recorded now"), "{err}");
    let (studies, _) = study_of(&uri, "orphan");
    assert_eq!(studies.len(), 2);
    assert!(studies.iter().all(|s| s.info.status == RunStatus::Finished));
    // a study ended the normal way leaves nothing pending for the next worker to take over
    let (code, err) = finish(worker(&uri, &["worker", "--study", "orphan"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("recorded now"), "{err}");
}

/// The library's one-call join, on both backends: three workers (each with its own store
/// connection, as three processes would have) run one 60-trial study.
#[test]
fn workers_joined_through_the_library_share_one_study() {
    use hpo::worker::{Join, WorkerError};
    use hpo::{hp, Fmin, ParamError, Params, Space, Tpe};
    let dir = tempfile::tempdir().unwrap();
    let mut uris = vec![format!("sqlite:///{}", dir.path().join("hpo.db").display())];
    let db = TempDb::create("library_join");
    if let Some(db) = &db {
        uris.push(db.url());
    }
    for uri in uris {
        let space = Space::from_params([hp::uniform("x", -5.0, 5.0)]).unwrap();
        // the workers join together once their stores are open (opening one can take a while
        // under load): a worker joining after the study ended (60 trials of 5 ms go fast)
        // would rightly start a second one
        let opened = std::sync::Arc::new(std::sync::Barrier::new(3));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (uri, space, opened) = (uri.clone(), space.clone(), opened.clone());
                std::thread::spawn(move || {
                    let tracker = Tracker::open(&uri).unwrap();
                    opened.wait();
                    let worker = Join::new(&tracker, "lib", &space)
                        .max_evals(60)
                        .join()
                        .unwrap();
                    let objective = |p: &Params| -> Result<f64, ParamError> {
                        std::thread::sleep(Duration::from_millis(5));
                        Ok((p.f64("x")? - 1.0).powi(2))
                    };
                    let fmin = Fmin::new(objective, &space)
                        .algo(Tpe::default())
                        .parallelism(2);
                    let result = worker.attach(fmin).run().unwrap();
                    tracker.flush().unwrap();
                    result.trials.len()
                })
            })
            .collect();
        let ran: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert!(
            ran >= 60,
            "{uri}: each worker's result holds at least its own trials"
        );
        let (studies, trials) = study_of(&uri, "lib");
        assert_eq!(studies.len(), 1, "{uri}");
        assert_eq!(studies[0].info.status, RunStatus::Finished, "{uri}");
        assert_eq!(
            trials.keys().copied().collect::<Vec<_>>(),
            (0..60).collect::<Vec<_>>(),
            "{uri}"
        );
        assert!(trials.values().all(|r| r.len() == 1), "{uri}");
        // the study's best is the best of every worker's trials
        let best = trials
            .values()
            .map(|r| r[0].data.metric("loss").unwrap().latest)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(
            studies[0].data.metric("best_loss").map(|m| m.latest),
            Some(best),
            "{uri}"
        );
        // a running study of that name is joined only with its own space
        let tracker = Tracker::open(&uri).unwrap();
        let first = Join::new(&tracker, "spaces", &space).join().unwrap();
        let other = Space::from_params([hp::uniform("y", 0.0, 1.0)]).unwrap();
        let refused = Join::new(&tracker, "spaces", &other)
            .spec("{}", |_| {
                Some(hpo::worker::StoredStudy {
                    space: Space::from_params([hp::uniform("x", -5.0, 5.0)]).unwrap(),
                    metric: "loss".into(),
                    source: None,
                })
            })
            .join();
        assert!(
            matches!(refused, Err(WorkerError::OtherSpace { .. })),
            "{uri}"
        );
        drop(first);
    }
}

#[test]
fn a_quick_study_stopped_by_its_timeout_gives_back_the_number_it_claimed_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("hpo.db").display());
    // quick trials: each one's start claims the next number
    let command = r#"["echo", "{x}"]"#;
    let file = write_study(dir.path(), "quick", 100_000, command, "timeout = 1");
    let (code, err) = finish(worker(&uri, &["run", &file]));
    assert_eq!(code, Some(0), "{err}");
    let t = Tracker::open(&uri).unwrap();
    let exp = t.get_experiment_by_name("quick").unwrap().unwrap();
    let board = t.store().study_board().unwrap();
    let study = board.find(exp.experiment_id, "quick").unwrap().unwrap();
    let (rows, _) = board.changes(&study.study_run_id, 0).unwrap();
    assert!(
        rows.iter().all(|r| r.state != "RUNNING"),
        "nothing is left claimed: {rows:?}"
    );
    let (_, trials) = study_of(&uri, "quick");
    let ran = trials.len();
    assert!(ran >= 2, "{ran} trials in a second");
    assert_eq!(
        trials.keys().copied().collect::<Vec<_>>(),
        (0..ran).collect::<Vec<_>>()
    );
    // resumed, the numbers go on where the study stopped: none lost, none twice
    let more = write_study(dir.path(), "quick", ran + 5, command, "");
    let (code, err) = finish(worker(&uri, &["run", "--resume", &more]));
    assert_eq!(code, Some(0), "{err}");
    let (studies, trials) = study_of(&uri, "quick");
    assert_eq!(studies.len(), 1);
    assert_eq!(
        trials.keys().copied().collect::<Vec<_>>(),
        (0..ran + 5).collect::<Vec<_>>()
    );
    assert!(trials.values().all(|r| r.len() == 1));
}
