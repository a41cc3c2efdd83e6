//! `wfrun run --executor slurm` against a real Slurm cluster (`scripts/slurm-up.sh` starts a
//! one-node one on loopback). Every test skips, saying so, when no `sbatch` is on PATH or no
//! cluster answers — unless `WF_SLURM_REQUIRED` is set (CI), when that is a failure.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

mod fixtures;
use fixtures::{module, text, wfrun};

/// Whether a Slurm cluster answers; prints why not when it does not (on stderr itself, past the
/// test harness's capture, so a skip is seen).
fn cluster(test: &str) -> bool {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    match ANSWER.get_or_init(probe_cluster) {
        Ok(()) => true,
        Err(why) if std::env::var_os("WF_SLURM_REQUIRED").is_some() => {
            panic!("{test}: WF_SLURM_REQUIRED is set, but {why}")
        }
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            false
        }
    }
}

fn probe_cluster() -> Result<(), String> {
    let sbatch = Command::new("sbatch").arg("--version").output();
    if !sbatch.is_ok_and(|o| o.status.success()) {
        return Err("no `sbatch` on PATH (scripts/slurm-up.sh starts a cluster)".to_owned());
    }
    // A controller that is down makes sinfo retry for half a minute: give it five seconds.
    let mut sinfo = Command::new("sinfo")
        .args(["--noheader", "--Node", "--format=%T"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("running sinfo: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sinfo.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = sinfo.kill();
    let nodes = sinfo
        .wait_with_output()
        .map_err(|e| format!("sinfo: {e}"))?;
    let ready = nodes.status.success()
        && text(&nodes.stdout)
            .lines()
            .any(|state| ["idle", "mixed", "allocated"].contains(&state.trim()));
    if ready {
        Ok(())
    } else {
        Err("no Slurm node answers (scripts/slurm-up.sh starts one)".to_owned())
    }
}

fn probes() -> PathBuf {
    module("probes")
}

fn run(runinfo: &Path, entry: &str, flags: &[&str]) -> Output {
    wfrun()
        .args(["run", "--entry", entry, "--runinfo"])
        .arg(runinfo)
        .arg(probes())
        .args(flags)
        .output()
        .expect("run wfrun")
}

fn summary(runinfo: &Path, run: &str) -> Value {
    let path = runinfo.join(run).join("summary.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("summary.json is JSON")
}

/// The `(job, elements, tasks)` of each `wf: slurm: submitted job J (wave W): E element(s),
/// T task(s)` line.
fn submissions(stderr: &str) -> Vec<(String, u64, u64)> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("wf: slurm: submitted job ")?;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let job = words.first()?.to_string();
            let elements = words.get(3)?.parse().ok()?;
            let tasks = words.get(5)?.parse().ok()?;
            Some((job, elements, tasks))
        })
        .collect()
}

/// A running `wfrun run` whose stderr is read line by line.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(runinfo: &Path, entry: &str, flags: &[&str]) -> Running {
        let mut child = wfrun()
            .args(["run", "--entry", entry, "--runinfo"])
            .arg(runinfo)
            .arg(probes())
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wfrun");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most a minute) for a stderr line that starts with `prefix`.
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("no `{prefix}` line within a minute: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("wfrun ended without a `{prefix}` line: {:#?}", self.seen)
                }
            }
        }
    }

    /// Waits for the process to end; its exit code, stdout and whole stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut out, &mut stdout).expect("stdout");
        }
        let status = self.child.wait().expect("reaped");
        self.seen.extend(self.lines.iter());
        (status.code(), stdout, self.seen.join("\n"))
    }
}

/// The elements of job `job` still in the queue.
fn queued(job: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["--noheader", "--array", "--format=%F_%K %T"])
        .output()
        .expect("squeue");
    text(&out.stdout)
        .lines()
        .filter(|line| line.starts_with(&format!("{job}_")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_three_level_graph_gives_the_local_outputs() {
    if !cluster("a_three_level_graph_gives_the_local_outputs") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let local = run(&tmp.path().join("local"), "pyramid", &[]);
    assert!(local.status.success(), "{}", text(&local.stderr));

    let runinfo = tmp.path().join("slurm");
    let slurm = run(
        &runinfo,
        "pyramid",
        &["--executor", "slurm", "--slurm-chunk", "8"],
    );
    let stderr = text(&slurm.stderr);
    assert!(slurm.status.success(), "{stderr}");
    assert_eq!(text(&slurm.stdout), text(&local.stdout), "{stderr}");
    assert_eq!(text(&slurm.stdout).lines().count(), 41);
    let report = summary(&runinfo, "000");
    assert_eq!(report["tasks"], 201, "{report}");
    assert_eq!(report["executed"], 201, "{report}");
    // The leaves go first, in chunks of 8; each later level waits for the one before.
    let waves = submissions(&stderr);
    assert!(waves.len() >= 3, "{stderr}");
    assert_eq!(waves.iter().map(|w| w.2).sum::<u64>(), 201, "{stderr}");
    assert!(waves.iter().all(|w| w.2 <= w.1 * 8), "{stderr}");
    assert!(
        !runinfo.join("exchange/000").exists(),
        "the exchange store is removed at the end"
    );
}

#[test]
fn a_resumed_run_submits_no_job() {
    if !cluster("a_resumed_run_submits_no_job") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path();
    let first = run(runinfo, "pyramid", &["--executor", "slurm"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(!submissions(&text(&first.stderr)).is_empty());

    let again = run(runinfo, "pyramid", &["--executor", "slurm", "--resume"]);
    let stderr = text(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert_eq!(text(&again.stdout), text(&first.stdout));
    assert_eq!(submissions(&stderr), [], "{stderr}");
    let report = summary(runinfo, "001");
    assert_eq!(report["executed"], 0, "{report}");
    assert_eq!(report["cached"], 201, "{report}");
}

#[test]
fn a_failing_task_is_reported_with_its_log() {
    if !cluster("a_failing_task_is_reported_with_its_log") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), "complaint", &["--executor", "slurm"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("app error: complained: the test asked"),
        "{stderr}"
    );
    assert!(
        stderr.contains("task 0 (`complain`) failed; the end of its log"),
        "{stderr}"
    );
    assert!(
        stderr.contains("| complain: about to fail because the test asked"),
        "{stderr}"
    );
    // An app error is the task's own failure, recorded like a local one: not retried on Slurm.
    assert_eq!(submissions(&stderr).len(), 1, "{stderr}");
}

#[test]
fn a_cancelled_element_gets_only_its_tasks_resubmitted() {
    if !cluster("a_cancelled_element_gets_only_its_tasks_resubmitted") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    // 8 seconds-long tasks, 2 per element: elements 0..4.
    let mut running = Running::start(
        tmp.path(),
        "slow_fan",
        &["--executor", "slurm", "--slurm-chunk", "2"],
    );
    let line = running.wait_for("wf: slurm: submitted job ");
    let (job, elements, tasks) = submissions(&line).remove(0);
    assert_eq!((elements, tasks), (4, 8), "{line}");
    let cancelled = Command::new("scancel")
        .arg(format!("{job}_1"))
        .status()
        .expect("scancel");
    assert!(cancelled.success());

    let lost = running.wait_for("wf: slurm: element ");
    assert!(
        lost.starts_with(&format!(
            "wf: slurm: element {job}_1 ended without finishing its chunk"
        )),
        "{lost}"
    );
    let unfinished: u64 = lost
        .split("resubmitting its ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("how many tasks: {lost}"));
    assert!((1..=2).contains(&unfinished), "{lost}");

    let (code, stdout, stderr) = running.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 8, "{stdout}");
    let waves = submissions(&stderr);
    assert_eq!(waves.len(), 2, "one resubmission only: {stderr}");
    assert_eq!((waves[1].1, waves[1].2), (1, unfinished), "{stderr}");
    assert_eq!(
        stderr.matches("ended without finishing").count(),
        1,
        "{stderr}"
    );
    let report = summary(tmp.path(), "000");
    assert_eq!(report["executed"], 8, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
}

#[test]
fn an_interrupted_run_leaves_the_queue_empty() {
    if !cluster("an_interrupted_run_leaves_the_queue_empty") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut running = Running::start(
        tmp.path(),
        "slow_fan",
        &["--executor", "slurm", "--slurm-chunk", "1"],
    );
    let line = running.wait_for("wf: slurm: submitted job ");
    let (job, _, _) = submissions(&line).remove(0);
    // Interrupt once the elements are in the queue (pending or running).
    let deadline = Instant::now() + Duration::from_secs(30);
    while queued(&job).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!queued(&job).is_empty(), "job {job} never showed in squeue");
    let pid = running.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let (code, _, stderr) = running.finish();
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("wfrun: interrupted"), "{stderr}");
    // Cancelled elements may show as completing for a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !queued(&job).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        queued(&job),
        Vec::<String>::new(),
        "job {job} is still queued"
    );
    assert!(
        !tmp.path().join("exchange/000").exists(),
        "the exchange store is removed on cancellation"
    );
}

#[test]
fn elements_that_never_finish_fail_their_tasks_after_bounded_resubmissions() {
    use wf_runtime::{Executor, Input, MemoTable, Runner, RunnerConfig, SlurmConfig};
    if !cluster("elements_that_never_finish_fail_their_tasks_after_bounded_resubmissions") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(probes()).expect("probes.wasm");
    let slurm = |worker: &str| SlurmConfig {
        worker_program: Some(PathBuf::from(worker)),
        resubmits: 2,
        ..SlurmConfig::default()
    };
    // Every element exits at once without running its chunk: an infrastructure failure.
    let broken = Runner::new(
        RunnerConfig {
            executor: Executor::Slurm(slurm("/bin/true")),
            ..RunnerConfig::default()
        },
        Some(tmp.path()),
    )
    .expect("runner");
    let module = broken.load(&bytes).expect("module");
    let session = broken.start("broken workers").expect("session");
    let task = session
        .submit(&module, "noop", vec![Input::value(&7u64)])
        .expect("submit");
    let error = session.wait(task).expect_err("no worker ran it");
    assert!(error.contains("infrastructure"), "{error}");
    assert!(
        error.contains("ended without finishing the task, 3 time(s) submitted"),
        "{error}"
    );
    let report = session.finish().expect("finish");
    assert_eq!(report.failed, 1);
    drop(broken);

    // The failure was not recorded: a later run with working workers executes the task.
    let runner = Runner::new(
        RunnerConfig {
            executor: Executor::Slurm(slurm(env!("CARGO_BIN_EXE_wfrun"))),
            ..RunnerConfig::default()
        },
        Some(tmp.path()),
    )
    .expect("runner");
    let mut table = MemoTable::new();
    let runinfo = runner.runinfo().expect("a runinfo");
    for id in runinfo.runs().expect("runs") {
        table.add_checkpoint(runinfo.load_checkpoint(id).expect("checkpoint"));
    }
    runner.use_checkpoints(table);
    let module = runner.load(&bytes).expect("module");
    let session = runner.start("working workers").expect("session");
    let task = session
        .submit(&module, "noop", vec![Input::value(&7u64)])
        .expect("submit");
    assert_eq!(session.get::<u64>(task).expect("a result"), 7);
    let report = session.finish().expect("finish");
    assert_eq!((report.executed, report.cached), (1, 0), "{report:?}");
}

#[test]
fn tasks_that_take_and_make_files_give_the_local_files() {
    if !cluster("tasks_that_take_and_make_files_give_the_local_files") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let wordfreq = module("wordfreq");
    let run_files = |name: &str, flags: &[&str]| {
        let out = wfrun()
            .args(["run", "--entry", "files", "--runinfo"])
            .arg(tmp.path().join(format!("runinfo-{name}")))
            .arg("--output-dir")
            .arg(tmp.path().join(format!("out-{name}")))
            .arg(&wordfreq)
            .args(flags)
            .output()
            .expect("run wfrun");
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };
    let local = run_files("local", &[]);
    let slurm = run_files("slurm", &["--executor", "slurm", "--slurm-chunk", "4"]);
    assert_eq!(text(&slurm.stdout), text(&local.stdout));
    let top = |name: &str| {
        std::fs::read(tmp.path().join(format!("out-{name}/top-words.txt"))).expect("output file")
    };
    assert_eq!(top("slurm"), top("local"));
}

#[test]
fn a_refused_submission_fails_the_tasks_with_sbatch_s_reason() {
    if !cluster("a_refused_submission_fails_the_tasks_with_sbatch_s_reason") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(
        tmp.path(),
        "complaint",
        &[
            "--executor",
            "slurm",
            "--slurm-partition",
            "no-such-partition",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("infrastructure"), "{stderr}");
    assert!(
        stderr.contains("submitting to Slurm: `sbatch` failed"),
        "{stderr}"
    );
    assert!(stderr.contains("Invalid partition"), "{stderr}");
}
