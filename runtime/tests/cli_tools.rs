//! The tools around the cache, as a user runs them: `wfrun verify` and `wfrun explain`.

use std::path::Path;
use std::process::Output;

mod fixtures;
use fixtures::{module, text, wfrun};

fn wf(runinfo: &Path, args: &[&str]) -> Output {
    wfrun()
        .args(args)
        .arg("--runinfo")
        .arg(runinfo)
        .output()
        .expect("wfrun")
}

fn call(runinfo: &Path, args: &[&str]) {
    let out = wfrun()
        .arg("call")
        .arg(module("basics"))
        .args(args)
        .arg("--runinfo")
        .arg(runinfo)
        .output()
        .expect("call");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn verify_passes_a_clean_run_and_fails_a_tampered_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let out = wfrun()
        .arg("run")
        .arg(module("basics"))
        .arg("--runinfo")
        .arg(&runinfo)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A large result (a blob) recorded by a second run.
    call(&runinfo, &["greet", "someone", "20000"]);

    let out = wf(&runinfo, &["verify", "0"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("0 mismatch(es)"),
        "{}",
        text(&out.stdout)
    );

    let blobs = runinfo.join("001/checkpoint/blobs");
    let blob = std::fs::read_dir(&blobs)
        .expect("blobs")
        .next()
        .expect("a blob")
        .expect("entry")
        .path();
    let mut bytes = std::fs::read(&blob).expect("read");
    bytes[10] ^= 1;
    std::fs::write(&blob, bytes).expect("tamper");
    let out = wf(&runinfo, &["verify", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("MISMATCH") && stdout.contains("greet"),
        "{stdout}"
    );
    assert!(stdout.contains("damaged"), "{stdout}");
}

#[test]
fn verify_refuses_bad_arguments_clearly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    call(&runinfo, &["add", "1", "2"]);
    for (args, says) in [
        (&["verify", "7"][..], "run 007 has no checkpoint"),
        (&["verify", "x"][..], "not a run id"),
        (&["verify", "0", "--sample", "0"][..], "not a percentage"),
        (&["verify", "0", "--sample", "150"][..], "not a percentage"),
    ] {
        let out = wf(&runinfo, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn explain_names_the_changed_argument() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    call(&runinfo, &["add", "1", "2"]);
    call(&runinfo, &["add", "1", "3"]);
    let show = wf(&runinfo, &["show", "1", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&show.stdout).expect("JSON");
    let key = summary["task_list"][0]["key"]
        .as_str()
        .expect("key")
        .to_owned();

    let out = wf(&runinfo, &["explain", "1", &key[..8]]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("argument 2 (`b: i64`): was 2") && stdout.contains("now 3"),
        "{stdout}"
    );
    assert!(stdout.contains("of run 000"), "{stdout}");

    for (args, says) in [
        (&["explain", "1", "zz"][..], "not a task key"),
        (
            &["explain", "1", "0000000000"][..],
            "no task whose key starts with",
        ),
        (&["explain", "5", "ab"][..], "has no summary"),
    ] {
        let out = wf(&runinfo, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn verify_fails_a_log_with_a_damaged_record() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let out = wfrun()
        .arg("run")
        .arg(module("basics"))
        .arg("--runinfo")
        .arg(&runinfo)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = runinfo.join("000/checkpoint/log.wfck");
    let mut bytes = std::fs::read(&log).expect("read");
    // Inside the first record's key (after the 16-byte header and the 12-byte frame).
    bytes[16 + 12 + 3] ^= 0xff;
    std::fs::write(&log, bytes).expect("damage");
    let out = wf(&runinfo, &["verify", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("offset 16"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("1 damaged"),
        "{}",
        text(&out.stdout)
    );
}

/// A record written by `wfrun call` under a fuel limit and a salt (from flags or the config file)
/// re-derives its key: verify passes it.
#[test]
fn verify_passes_calls_recorded_with_fuel_and_salt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    call(
        &runinfo,
        &["add", "1", "2", "--fuel", "1000000", "--salt", "s"],
    );
    let config = tmp.path().join("wf.toml");
    std::fs::write(&config, "salt = \"t\"\n[limits]\nfuel = 2000000\n").expect("config");
    let out = wfrun()
        .arg("call")
        .arg(module("basics"))
        .args(["add", "1", "2", "--config"])
        .arg(&config)
        .arg("--runinfo")
        .arg(&runinfo)
        .output()
        .expect("call");
    assert!(out.status.success(), "{}", text(&out.stderr));
    for run in ["0", "1"] {
        let out = wf(&runinfo, &["verify", run]);
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("1 identical"),
            "{}",
            text(&out.stdout)
        );
    }
}
