//! Crash safety with real processes: a run killed with SIGKILL half-way, then resumed, reuses
//! what it recorded and ends with the same output as a clean run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

mod fixtures;
use fixtures::{module, wfrun};

fn probes() -> std::path::PathBuf {
    module("probes")
}

const TASKS: usize = 200;

fn run_chain(runinfo: &Path, extra: &[&str]) -> std::process::Output {
    wfrun()
        .args(["run", "--entry", "chain", "--runinfo"])
        .arg(runinfo)
        .arg(probes())
        .args(extra)
        .output()
        .expect("run wfrun")
}

/// Starts the chain, lets `printed` tasks resolve, kills the process with SIGKILL; returns the
/// indexes of the tasks whose futures had resolved.
fn kill_half_way(runinfo: &Path, extra: &[&str], printed: usize) -> Vec<usize> {
    let mut child = wfrun()
        .args(["run", "--entry", "chain", "--runinfo"])
        .arg(runinfo)
        .arg(probes())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wfrun");
    let stdout = child.stdout.take().expect("piped");
    let mut done = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let index = line
            .split_whitespace()
            .nth(1)
            .and_then(|i| i.parse().ok())
            .expect("done I R");
        done.push(index);
        if done.len() >= printed {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert_eq!(
        done.len(),
        printed,
        "the run ended before it could be killed"
    );
    done
}

/// Ids of the tasks run 001 executed.
fn executed_in_rerun(runinfo: &Path) -> Vec<usize> {
    let out = wfrun()
        .args(["show", "1", "--json", "--runinfo"])
        .arg(runinfo)
        .output()
        .expect("show");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    report["task_list"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["status"] == "executed")
        .map(|t| t["id"].as_u64().expect("id") as usize)
        .collect()
}

fn clean_output() -> &'static [u8] {
    static CLEAN: OnceLock<Vec<u8>> = OnceLock::new();
    CLEAN.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = run_chain(tmp.path(), &[]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), TASKS);
        out.stdout
    })
}

#[test]
fn task_exit_killed_then_resumed_reruns_none_of_the_resolved_tasks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let resolved = kill_half_way(tmp.path(), &[], 60);
    let resumed = run_chain(tmp.path(), &["--resume"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        resumed.stdout,
        clean_output(),
        "the same output as a clean run"
    );
    let executed = executed_in_rerun(tmp.path());
    for index in &resolved {
        assert!(
            !executed.contains(index),
            "task {index} had resolved before the kill but ran again"
        );
    }
    assert!(executed.len() <= TASKS - resolved.len());
}

#[test]
fn every_n_finished_killed_then_resumed_reruns_exactly_what_it_had_not_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let resolved = kill_half_way(
        tmp.path(),
        &[
            "--checkpoint-mode",
            "every_n_finished",
            "--checkpoint-n",
            "10",
        ],
        80,
    );
    let resumed = run_chain(tmp.path(), &["--resume"]);
    assert_eq!(resumed.stdout, clean_output());
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    let recorded: usize = stderr
        .lines()
        .find_map(|line| {
            line.strip_prefix("wf: loaded ")?
                .strip_suffix(" recorded results")
        })
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("the resumed run says what it loaded: {stderr}"));
    // In this mode futures do not wait for their records, so how far the commit thread got
    // before the kill depends on the machine's load, and a SIGKILL can cut the write of a batch
    // between pages (each record is checksummed: a cut one is dropped, whole ones are kept). What
    // must hold whatever the load: something was durable by the time 80 tasks had resolved one
    // after another, and the rerun executes exactly the tasks not recorded.
    assert!(
        (1..=TASKS).contains(&recorded),
        "{recorded} records after {} resolved",
        resolved.len()
    );
    let executed = executed_in_rerun(tmp.path()).len();
    assert_eq!(executed, TASKS - recorded, "{stderr}");
}

#[test]
fn periodic_killed_then_resumed_keeps_what_earlier_periods_wrote() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let extra = [
        "--checkpoint-mode",
        "periodic",
        "--checkpoint-period",
        "100ms",
    ];
    let resolved = kill_half_way(tmp.path(), &extra, 120);
    let resumed = run_chain(tmp.path(), &["--resume"]);
    assert_eq!(resumed.stdout, clean_output());
    let executed = executed_in_rerun(tmp.path()).len();
    assert!(executed < TASKS, "something was recorded before the kill");
    assert!(executed >= TASKS - resolved.len());
}

#[test]
fn sigterm_in_dfk_exit_mode_records_what_finished() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = wfrun()
        .args([
            "run",
            "--entry",
            "chain",
            "--checkpoint-mode",
            "dfk_exit",
            "--runinfo",
        ])
        .arg(tmp.path())
        .arg(probes())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wfrun");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let printed = lines.by_ref().take(50).count();
    // Keep reading, so the workflow is not stopped by a closed pipe before the signal arrives.
    let drain = std::thread::spawn(move || lines.count());
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(killed.success());
    let out = child.wait_with_output().expect("exit");
    drain.join().expect("drained");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recorded"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = run_chain(tmp.path(), &["--resume"]);
    assert_eq!(resumed.stdout, clean_output());
    assert!(executed_in_rerun(tmp.path()).len() <= TASKS - printed);
}
