//! `wfrun compact` and `wfrun gc` as a user runs them: dry runs change nothing, retention by
//! count and age, live runs are never touched, and after compacting and collecting, `--resume`
//! still gets every hit and the same outputs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, SystemTime};

mod fixtures;
use fixtures::{module, text, wfrun};

fn run(runinfo: &Path, app: &str, args: &[&str]) -> Output {
    let out = wfrun()
        .arg("run")
        .arg(module(app))
        .arg("--runinfo")
        .arg(runinfo)
        .args(args)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// `wfrun <sub> --runinfo DIR <args>`, which must succeed.
fn wf(sub: &str, runinfo: &Path, args: &[&str]) -> Output {
    let out = wfrun()
        .arg(sub)
        .arg("--runinfo")
        .arg(runinfo)
        .args(args)
        .output()
        .expect("run wfrun");
    assert!(
        out.status.success(),
        "wfrun {sub} {args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// The run ids `wfrun runs --json` lists.
fn runs(runinfo: &Path) -> Vec<String> {
    let out = wf("runs", runinfo, &["--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Every path below `dir` with its length and modification time.
fn tree(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata().expect("stat");
        if meta.is_dir() {
            for (sub, v) in tree(&entry.path()) {
                out.insert(format!("{name}/{sub}"), v);
            }
        } else {
            out.insert(name, (meta.len(), meta.modified().expect("mtime")));
        }
    }
    out
}

fn age(runinfo: &Path, run: &str, days: u64) {
    std::fs::File::options()
        .write(true)
        .open(runinfo.join(run).join("summary.json"))
        .expect("a summary")
        .set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
        .expect("set mtime");
}

#[test]
fn after_gc_and_compact_resume_gets_every_hit_and_the_same_outputs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let out_dir = |name: &str| tmp.path().join(name).to_str().expect("utf-8").to_owned();
    let files = |out: &str| ["--entry", "files", "--output-dir", out].map(str::to_owned);
    let first_files = run(
        &runinfo,
        "wordfreq",
        &files(&out_dir("out1")).each_ref().map(|s| s.as_str()),
    );
    let first_basics = run(&runinfo, "basics", &[]);
    run(&runinfo, "basics", &["--salt", "other"]);
    run(&runinfo, "basics", &["--resume"]); // 003 names 000-002 in its lineage

    // 003 is kept; the runs it names are merged into 004 rather than dropped.
    let gc = wf("gc", &runinfo, &["--keep", "1"]);
    let said = text(&gc.stdout);
    assert!(
        said.contains("merged runs 000, 001, 002 into run 004"),
        "{said}"
    );
    assert_eq!(runs(&runinfo), ["003", "004"]);
    let compact = wf("compact", &runinfo, &[]);
    assert!(
        text(&compact.stdout).contains("into run 005"),
        "{}",
        text(&compact.stdout)
    );
    assert_eq!(runs(&runinfo), ["005"]);

    let mut args: Vec<String> = files(&out_dir("out2")).into();
    args.push("--resume".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let again = run(&runinfo, "wordfreq", &args);
    assert!(
        text(&again.stderr).contains("0 executed, 18 cached"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(again.stdout, first_files.stdout);
    assert_eq!(
        std::fs::read(tmp.path().join("out1/top-words.txt")).expect("first"),
        std::fs::read(tmp.path().join("out2/top-words.txt")).expect("second")
    );
    for salt in [&[][..], &["--salt", "other"][..]] {
        let args: Vec<&str> = ["--resume"].iter().chain(salt).copied().collect();
        let again = run(&runinfo, "basics", &args);
        assert!(
            text(&again.stderr).contains("0 executed, 9 cached"),
            "{}",
            text(&again.stderr)
        );
        assert_eq!(again.stdout, first_basics.stdout);
    }
}

#[test]
fn a_dry_run_shows_what_would_go_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    run(&runinfo, "basics", &[]);
    run(&runinfo, "basics", &["--salt", "b"]);
    run(&runinfo, "basics", &["--salt", "c"]);
    let before = tree(&runinfo);
    let out = wf("compact", &runinfo, &["--dry-run"]);
    let said = text(&out.stdout);
    assert!(
        said.contains(
            "dry run: would merge runs 000, 001, 002 into one compacted run of 27 record(s)"
        ),
        "{said}"
    );
    let out = wf("gc", &runinfo, &["--keep", "1", "--dry-run"]);
    let said = text(&out.stdout);
    assert!(
        said.contains("dry run: would remove runs 000, 001 with 18 record(s)"),
        "{said}"
    );
    assert!(said.contains("frees about"), "{said}");
    let mut after = tree(&runinfo);
    after.remove(".lock"); // created by the first command that locks the root
    let mut before = before;
    before.remove(".lock");
    assert_eq!(after, before);
}

#[test]
fn gc_keeps_the_newest_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    for salt in ["a", "b", "c", "d"] {
        run(&runinfo, "basics", &["--salt", salt]);
    }
    let out = wf("gc", &runinfo, &["--keep", "2"]);
    assert!(
        text(&out.stdout).contains("removed runs 000, 001 with 18 record(s)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(runs(&runinfo), ["002", "003"]);
    // What went is gone from --resume; what stayed is still a hit.
    let gone = run(&runinfo, "basics", &["--salt", "a", "--resume"]);
    assert!(
        text(&gone.stderr).contains("9 executed, 0 cached"),
        "{}",
        text(&gone.stderr)
    );
    let kept = run(&runinfo, "basics", &["--salt", "d", "--resume"]);
    assert!(
        text(&kept.stderr).contains("0 executed, 9 cached"),
        "{}",
        text(&kept.stderr)
    );
}

/// `wfrun gc … | head -1`: a reader that closes the pipe before wfrun prints drops the output,
/// not the work nor its status, and no panic ("failed printing to stdout") comes of it.
#[test]
fn a_reader_that_closes_the_pipe_early_does_not_stop_the_collection() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    for salt in ["a", "b", "c"] {
        run(&runinfo, "basics", &["--salt", salt]);
    }
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = wfrun()
        .arg("gc")
        .arg("--runinfo")
        .arg(&runinfo)
        .args(["--keep", "1"])
        .stdout(writer)
        .output()
        .expect("run wfrun gc");
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_eq!(runs(&runinfo), ["002"]);
}

#[test]
fn gc_older_than_removes_runs_by_age_unless_keep_keeps_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    for salt in ["a", "b", "c"] {
        run(&runinfo, "basics", &["--salt", salt]);
    }
    age(&runinfo, "000", 10);
    age(&runinfo, "001", 8);
    // Either rule keeps a run: the two most recent stay, whatever their age.
    let out = wf("gc", &runinfo, &["--older-than", "7d", "--keep", "2"]);
    assert!(
        text(&out.stdout).contains("removed run 000 "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(runs(&runinfo), ["001", "002"]);
    wf("gc", &runinfo, &["--older-than", "7d"]);
    assert_eq!(runs(&runinfo), ["002"]);
    let out = wf("gc", &runinfo, &["--older-than", "7d"]);
    assert_eq!(text(&out.stdout).trim(), "nothing to remove");
}

#[test]
fn a_live_run_is_never_removed_nor_merged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    run(&runinfo, "basics", &[]);
    // `runaway` records a quick task, then waits forever on another: live until killed. It
    // resumes, so its lineage names run 000.
    let mut child = wfrun()
        .args([
            "run",
            "--entry",
            "runaway",
            "-j",
            "2",
            "--resume",
            "--runinfo",
        ])
        .arg(&runinfo)
        .arg(module("probes"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wfrun");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("a line");
    assert_eq!(first.trim(), "noop answered 7");

    // gc keeps nothing but the live run, and merges 000, which the live run names, into 002;
    // compact then finds nothing to do but that one compacted run.
    for (sub, args) in [("gc", &["--keep", "0"][..]), ("compact", &[][..])] {
        let out = wf(sub, &runinfo, args);
        let said = text(&out.stderr);
        assert!(
            said.contains("run 001 is live (a running wfrun holds it): skipped"),
            "{said}"
        );
        assert!(runinfo.join("001/run.lock").is_file(), "after {sub}");
        assert_eq!(runs(&runinfo), ["001", "002"], "after {sub}");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // Once its process is gone, its recorded result is merged like any other.
    let out = wf("compact", &runinfo, &[]);
    assert!(
        text(&out.stdout).contains("into run 003"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(runs(&runinfo), ["003"]);
    let again = run(&runinfo, "basics", &["--resume"]);
    assert!(
        text(&again.stderr).contains("0 executed, 9 cached"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn a_damaged_record_is_reported_and_skipped_not_fatal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    run(&runinfo, "basics", &[]);
    run(&runinfo, "basics", &["--salt", "b"]);
    let log = runinfo.join("000/checkpoint/log.wfck");
    let mut bytes = std::fs::read(&log).expect("read the log");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&log, bytes).expect("damage the log");

    let out = wf("compact", &runinfo, &[]);
    let said = text(&out.stderr);
    assert!(
        said.contains("wfrun: warning: skipping:") && said.contains("offset"),
        "{said}"
    );
    assert!(
        text(&out.stdout).contains("17 record(s)"),
        "{}",
        text(&out.stdout)
    );
    // The damaged record costs only itself.
    let again = run(&runinfo, "basics", &["--resume"]);
    assert!(
        text(&again.stderr).contains("1 executed, 8 cached"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn gc_finds_the_runinfo_that_wf_toml_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("elsewhere");
    run(&runinfo, "basics", &[]);
    run(&runinfo, "basics", &["--salt", "b"]);
    std::fs::write(tmp.path().join("wf.toml"), "runinfo = \"elsewhere\"\n").expect("wf.toml");
    let out = wfrun()
        .args(["gc", "--keep", "1"])
        .current_dir(tmp.path())
        .output()
        .expect("run wfrun gc");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("removed run 000 with 9 record(s)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(runs(&runinfo), ["001"]);
}
