//! Reusing results across runs and machines: --resume, --checkpoint-files with lineage, a
//! relocated checkpoint directory, concurrent runs on one runinfo.

use std::path::Path;
use std::process::Output;

mod fixtures;
use fixtures::{module, wfrun};

fn run(runinfo: &Path, app: &str, args: &[&str]) -> Output {
    let out = wfrun()
        .arg("run")
        .arg(module(app))
        .arg("--runinfo")
        .arg(runinfo)
        .args(args)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn summary(runinfo: &Path, run: &str) -> serde_json::Value {
    let out = wfrun()
        .args(["show", run, "--json", "--runinfo"])
        .arg(runinfo)
        .output()
        .expect("show");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_newest_checkpoint_alone_sees_everything_through_its_lineage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    run(&runinfo, "basics", &[]); // 000: executes everything
    run(&runinfo, "basics", &["--resume"]); // 001: all hits, records nothing new
    assert_eq!(summary(&runinfo, "1")["executed"], 0);
    let newest = runinfo.join("001/checkpoint");
    let out = run(
        &tmp.path().join("other-runinfo"),
        "basics",
        &["--checkpoint-files", newest.to_str().expect("utf-8")],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("0 executed, 9 cached"), "{text}");
}

#[test]
fn a_copied_checkpoint_directory_gives_every_hit_elsewhere() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let first = run(
        &runinfo,
        "wordfreq",
        &[
            "--entry",
            "files",
            "--output-dir",
            tmp.path().join("out1").to_str().expect("utf-8"),
        ],
    );
    // Copy the checkpoint (log and blobs) somewhere else, as to another machine, and delete the
    // original runinfo so nothing can be found by its old path.
    let copy = tmp.path().join("moved/checkpoint");
    copy_dir(&runinfo.join("000/checkpoint"), &copy);
    std::fs::remove_dir_all(&runinfo).expect("remove the original");
    let out2 = tmp.path().join("out2");
    let second = run(
        &tmp.path().join("fresh"),
        "wordfreq",
        &[
            "--entry",
            "files",
            "--checkpoint-files",
            copy.to_str().expect("utf-8"),
            "--output-dir",
            out2.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(second.stdout, first.stdout);
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(text.contains("0 executed, 18 cached"), "{text}");
    assert_eq!(
        std::fs::read(tmp.path().join("out1/top-words.txt")).expect("first"),
        std::fs::read(out2.join("top-words.txt")).expect("second")
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

#[test]
fn concurrent_runs_never_share_a_run_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let basics = module("basics");
    let children: Vec<_> = (0..6)
        .map(|i| {
            wfrun()
                .arg("call")
                .arg(&basics)
                .args(["add", &i.to_string(), "1000", "--runinfo"])
                .arg(&runinfo)
                .output()
        })
        .collect();
    // `output()` above runs them one after another; now really at the same time:
    let spawned: Vec<_> = (0..6)
        .map(|i| {
            wfrun()
                .arg("run")
                .arg(&basics)
                .args(["--salt", &format!("concurrent {i}"), "--runinfo"])
                .arg(&runinfo)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in spawned {
        assert!(child.wait_with_output().expect("wait").status.success());
    }
    assert!(
        children
            .into_iter()
            .all(|c| c.expect("ran").status.success())
    );
    let out = wfrun()
        .args(["runs", "--json", "--runinfo"])
        .arg(&runinfo)
        .output()
        .expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<&str> = runs
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique, ids, "numeric order, no duplicates");
    // Every concurrent workflow run wrote its own complete summary.
    let workflows = runs
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["tasks"] == 9)
        .count();
    assert_eq!(workflows, 6);
}
