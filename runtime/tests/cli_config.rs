//! The config file `wf.toml` as a user writes it: found in the current directory or named with
//! `--config`, its settings take effect, a flag given on the command line overrides it, and a
//! bad file is refused (exit 2) with the file, line, column and key.
//!
//! Each test works in its own temporary directory, where `wfrun` looks for `./wf.toml`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod fixtures;
use fixtures::{module, text, wfrun};

/// `wfrun ARGS...` in `dir`.
fn wfrun_out(dir: &Path, args: &[&str]) -> Output {
    wfrun_in(dir).args(args).output().expect("run wfrun")
}

fn wfrun_in(dir: &Path) -> Command {
    let mut command = wfrun();
    command.current_dir(dir);
    command
}

/// `wfrun run apps/<app> ARGS...` in `dir`.
fn run(dir: &Path, app: &str, args: &[&str]) -> Output {
    wfrun_in(dir)
        .arg("run")
        .arg(module(app))
        .args(args)
        .output()
        .expect("run wfrun run")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write the config file");
}

/// Asserts `out` succeeded and returns its stderr.
fn succeeded(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Asserts that `out` exited with `code`, did not panic, and says `expected` on stderr.
fn assert_fails(out: &Output, code: i32, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `wfrun show RUN --json` in `dir`, with extra flags.
fn show(dir: &Path, run: &str, extra: &[&str]) -> Value {
    let out = wfrun_in(dir)
        .args(["show", run, "--json"])
        .args(extra)
        .output()
        .expect("run wfrun show");
    succeeded(&out);
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The apps of the tasks of a run report that have `status`.
fn apps_with_status(report: &Value, status: &str) -> Vec<String> {
    report["task_list"]
        .as_array()
        .expect("task_list")
        .iter()
        .filter(|t| t["status"] == status)
        .map(|t| t["app"].as_str().expect("app").to_owned())
        .collect()
}

#[test]
fn workers_and_runinfo_come_from_the_file_and_flags_override_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        &tmp.path().join("wf.toml"),
        "workers = 1\nruninfo = \"store\"\n",
    );
    let stderr = succeeded(&run(tmp.path(), "basics", &[]));
    assert!(
        stderr.starts_with("wf: settings from wf.toml\n"),
        "{stderr}"
    );
    assert!(stderr.contains(" on 1 worker — "), "{stderr}");
    assert!(stderr.contains("Records and logs: store/000"), "{stderr}");
    assert!(tmp.path().join("store/000/summary.json").is_file());
    assert!(!tmp.path().join("runinfo").exists());

    // `runs` and `show` read the same file.
    let out = wfrun_out(tmp.path(), &["runs", "--json"]);
    succeeded(&out);
    let runs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    assert_eq!(show(tmp.path(), "0", &[])["tasks"], 9);

    // Flags given win over the file.
    let stderr = succeeded(&run(
        tmp.path(),
        "basics",
        &["-j", "2", "--runinfo", "other"],
    ));
    assert!(stderr.contains(" on 2 workers — "), "{stderr}");
    assert!(stderr.contains("Records and logs: other/000"), "{stderr}");
    assert!(!tmp.path().join("store/001").exists());
    assert_eq!(show(tmp.path(), "0", &["--runinfo", "other"])["tasks"], 9);

    // --no-config ignores the file: the defaults.
    let stderr = succeeded(&run(tmp.path(), "basics", &["--no-config"]));
    assert!(!stderr.contains("settings from"), "{stderr}");
    assert!(stderr.contains("Records and logs: runinfo/000"), "{stderr}");
}

#[test]
fn paths_in_a_file_named_with_config_are_relative_to_its_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        &tmp.path().join("conf/wf.toml"),
        "runinfo = \"store\"\nentry = \"failing\"\n",
    );
    // A ./wf.toml that would fail is not read when --config names another file.
    write(&tmp.path().join("wf.toml"), "workers = 0\n");
    let out = run(tmp.path(), "basics", &["--config", "conf/wf.toml"]);
    // The file's entry ran: the `failing` workflow.
    assert_fails(&out, 1, "the workflow `failing` failed");
    assert!(text(&out.stderr).contains("wf: settings from conf/wf.toml"));
    assert!(tmp.path().join("conf/store/000/summary.json").is_file());
    assert!(!tmp.path().join("store").exists());
    let report = show(tmp.path(), "0", &["--config", "conf/wf.toml"]);
    assert_eq!(report["ok"], false);

    // --entry overrides the file's entry.
    let out = run(
        tmp.path(),
        "basics",
        &["--config", "conf/wf.toml", "--entry", "main"],
    );
    succeeded(&out);
    assert_eq!(text(&out.stdout).lines().next(), Some("20"));
}

#[test]
fn resume_and_salt_from_the_file_and_a_salt_flag_over_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(&tmp.path().join("wf.toml"), "resume = true\nsalt = \"a\"\n");
    succeeded(&run(tmp.path(), "basics", &[]));
    succeeded(&run(tmp.path(), "basics", &[]));
    // The file's resume reused every recorded result.
    let second = show(tmp.path(), "1", &[]);
    assert_eq!(
        (second["executed"].as_u64(), second["cached"].as_u64()),
        (Some(0), Some(9))
    );
    // Another salt on the command line gives fresh keys: nothing recorded matches.
    succeeded(&run(tmp.path(), "basics", &["--salt", "b"]));
    assert_eq!(show(tmp.path(), "2", &[])["executed"], 9);
    // --no-resume turns the file's resume off: the same keys as run 000, executed again.
    succeeded(&run(tmp.path(), "basics", &["--no-resume"]));
    assert_eq!(show(tmp.path(), "3", &[])["executed"], 9);
    // The last of --resume/--no-resume wins.
    succeeded(&run(
        tmp.path(),
        "basics",
        &["--resume", "--no-resume", "--resume"],
    ));
    assert_eq!(show(tmp.path(), "4", &[])["cached"], 9);
}

#[test]
fn avoid_from_the_file_and_a_flag_that_replaces_the_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        &tmp.path().join("wf.toml"),
        "[checkpoint]\navoid = [\"slow_double\"]\n",
    );
    succeeded(&run(tmp.path(), "basics", &[]));
    succeeded(&run(tmp.path(), "basics", &["--resume"]));
    // Only the avoided app was never recorded, so only it ran again.
    let executed = apps_with_status(&show(tmp.path(), "1", &[]), "executed");
    assert_eq!(executed, vec!["slow_double"; 5]);

    // `--avoid-checkpoint greet` replaces the file's list: run 002 runs slow_double once more
    // and records it this time, so run 003 reuses everything (greet was recorded by run 000).
    succeeded(&run(
        tmp.path(),
        "basics",
        &["--resume", "--avoid-checkpoint", "greet"],
    ));
    succeeded(&run(tmp.path(), "basics", &["--resume"]));
    let executed = apps_with_status(&show(tmp.path(), "2", &[]), "executed");
    assert_eq!(executed, vec!["slow_double"; 5]);
    let executed = apps_with_status(&show(tmp.path(), "3", &[]), "executed");
    assert_eq!(
        executed,
        Vec::<String>::new(),
        "slow_double was recorded by run 002"
    );
}

/// How many tasks `chain` runs.
const CHAIN: usize = 200;

/// Starts the probes' `chain` in `dir`, lets `printed` tasks resolve, kills it with SIGKILL.
fn kill_chain_half_way(dir: &Path, extra: &[&str], printed: usize) -> Vec<usize> {
    let mut child = wfrun_in(dir)
        .args(["run", "--entry", "chain"])
        .arg(module("probes"))
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

/// Resumes the chain in `dir` and returns the ids of the tasks that executed again.
fn resume_chain(dir: &Path) -> Vec<usize> {
    let out = run(dir, "probes", &["--entry", "chain", "--resume"]);
    succeeded(&out);
    assert_eq!(text(&out.stdout).lines().count(), CHAIN);
    show(dir, "1", &[])["task_list"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["status"] == "executed")
        .map(|t| t["id"].as_u64().expect("id") as usize)
        .collect()
}

#[test]
fn checkpoint_mode_manual_from_the_file_records_nothing_before_the_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        &tmp.path().join("wf.toml"),
        "[checkpoint]\nmode = \"manual\"\n",
    );
    kill_chain_half_way(tmp.path(), &[], 40);
    // The chain never calls checkpoint(): the killed run left no record, all of it reruns.
    assert_eq!(resume_chain(tmp.path()).len(), CHAIN);
}

#[test]
fn a_checkpoint_mode_flag_overrides_the_files_mode_and_its_period() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        &tmp.path().join("wf.toml"),
        "[checkpoint]\nmode = \"periodic\"\nperiod = \"1h\"\n",
    );
    // task_exit takes no period: the file's goes with its mode.
    let resolved = kill_chain_half_way(tmp.path(), &["--checkpoint-mode", "task_exit"], 40);
    let executed = resume_chain(tmp.path());
    for index in &resolved {
        assert!(
            !executed.contains(index),
            "task {index} resolved under task_exit before the kill but ran again"
        );
    }
}

#[test]
fn call_takes_limits_and_memoization_from_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(
        &tmp.path().join("wf.toml"),
        "memoize = false\n[limits]\nfuel = 100000\n",
    );
    let call = |args: &[&str]| {
        wfrun_in(tmp.path())
            .arg("call")
            .arg(module("probes"))
            .args(args)
            .output()
            .expect("run wfrun call")
    };
    assert_fails(
        &call(&["forever"]),
        1,
        "the task used up its fuel limit of 100000 units",
    );
    assert_fails(
        &call(&["forever", "--fuel", "200000"]),
        1,
        "fuel limit of 200000 units",
    );
    // memoize = false: the second call executes again, no cache hit.
    succeeded(&call(&["noop", "5"]));
    let stderr = succeeded(&call(&["noop", "5"]));
    assert!(!stderr.contains("cache hit"), "{stderr}");
    // --memo turns it back on over the file: the first records, the second is a hit.
    let stderr = succeeded(&call(&["noop", "5", "--memo"]));
    assert!(
        !stderr.contains("cache hit"),
        "nothing was recorded: {stderr}"
    );
    let stderr = succeeded(&call(&["noop", "5", "--memo"]));
    assert!(stderr.contains("cache hit"), "{stderr}");
}

#[test]
fn a_bad_file_exits_2_naming_the_key_and_the_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let basics = module("basics");
    let basics = basics.to_str().expect("a UTF-8 path");
    let cases = [
        (
            "[limits]\nfule = 5\n",
            "wf.toml:2:1: `limits.fule`: unknown field `fule`",
        ),
        (
            "# workers\nworkers = 0\n",
            "wf.toml:2:11: `workers`: 0 is out of range",
        ),
        (
            "[checkpoint]\nmode = \"periodic\"\nperiod = \"5x\"\n",
            "wf.toml:3:10: `checkpoint.period`: bad checkpoint period: `5x` is not a duration",
        ),
        (
            "[checkpoint]\nmode = \"often\"\n",
            "wf.toml:2:8: `checkpoint.mode`: `often` is not a checkpoint mode",
        ),
        (
            "workers = \"two\"\n",
            "wf.toml:1:11: `workers`: invalid type",
        ),
        ("salt = \"open\n", "wf.toml:1:"),
    ];
    for (file, expected) in cases {
        write(&tmp.path().join("wf.toml"), file);
        for args in [
            &["run", basics][..],
            &["call", basics, "add", "1", "2"],
            &["runs"],
            &["show", "0"],
        ] {
            assert_fails(&wfrun_out(tmp.path(), args), 2, expected);
        }
    }
    assert!(!tmp.path().join("runinfo").exists(), "nothing ran");
    // --no-config ignores the bad file.
    succeeded(&wfrun_out(tmp.path(), &["run", basics, "--no-config"]));
}

#[test]
fn a_missing_config_file_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let basics = module("basics");
    let basics = basics.to_str().expect("a UTF-8 path");
    for args in [
        &["run", basics, "--config", "nope.toml"][..],
        &["call", basics, "add", "1", "2", "--config", "nope.toml"],
        &["runs", "--config", "nope.toml"],
        &["show", "0", "--config", "nope.toml"],
    ] {
        assert_fails(
            &wfrun_out(tmp.path(), args),
            2,
            "wfrun: error: cannot read the config file nope.toml: No such file",
        );
    }
    assert_fails(
        &wfrun_out(tmp.path(), &["runs", "--config", "a.toml", "--no-config"]),
        2,
        "cannot be used with",
    );
}
