//! `wfrun report` as a user runs it: the page it writes for a run, self-contained and holding
//! the run's tasks with their timing; hostile text from a run escaped; bad run ids refused.
//! (Whether a browser draws the page: `scripts/check-report.sh`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod fixtures;
use fixtures::{module, text, wfrun};

/// `wfrun ARGS...` working in `dir`.
fn wfrun_in(dir: &Path, args: &[&str]) -> Output {
    let mut command: Command = wfrun();
    command.current_dir(dir).args(args);
    command.output().expect("run wfrun")
}

/// `wfrun run apps/<app> ARGS...` in `dir`.
fn run(dir: &Path, app: &str, args: &[&str]) -> Output {
    let module = module(app);
    let mut all = vec!["run", module.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    wfrun_in(dir, &all)
}

/// `wfrun report ARGS...` in `dir`: it must succeed; answers the path it printed and the page.
fn report(dir: &Path, args: &[&str]) -> (PathBuf, String) {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let out = wfrun_in(dir, &all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let printed = PathBuf::from(stdout.trim_end());
    assert_eq!(stdout.lines().count(), 1, "one path: {stdout}");
    let page = std::fs::read_to_string(dir.join(&printed))
        .unwrap_or_else(|e| panic!("the printed path {} does not read: {e}", printed.display()));
    (printed, page)
}

/// The JSON the page's script draws from.
fn timeline_data(page: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"timeline-data\">";
    let start = page.find(open).expect("the page embeds its timeline data") + open.len();
    let end = start + page[start..].find("</script>").expect("closed");
    serde_json::from_str(&page[start..end]).expect("the embedded data is JSON")
}

/// The page fetches nothing: no address to load a script, style, image or font from.
fn assert_self_contained(page: &str) {
    for needle in ["http://", "https://", "src=", "@import", "<link"] {
        assert!(!page.contains(needle), "the page contains `{needle}`");
    }
    assert!(page.contains("<style>") && page.contains("<svg id=\"chart\""));
}

fn summary(dir: &Path, run: &str) -> Value {
    let path = dir.join("runinfo").join(run).join("summary.json");
    serde_json::from_slice(&std::fs::read(&path).expect("summary.json")).expect("JSON")
}

#[test]
fn report_writes_a_self_contained_page_with_every_task_and_its_timing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), "basics", &["-j", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(tmp.path(), "basics", &["-j", "2", "--resume"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The summary says where and when each executed task ran, and when a cached one resolved.
    let first = summary(tmp.path(), "000");
    assert_eq!(first["workers"], 2);
    assert!(first["started_unix_ms"].as_u64().is_some_and(|ms| ms > 0));
    let seconds = first["seconds"].as_f64().expect("seconds");
    for task in first["task_list"].as_array().expect("tasks") {
        assert_eq!(task["status"], "executed", "{task}");
        let worker = task["worker"].as_u64().expect("a worker");
        let (start, end) = (
            task["start"].as_f64().expect("start"),
            task["end"].as_f64().expect("end"),
        );
        assert!(
            worker < 2 && 0.0 <= start && start <= end && end <= seconds,
            "{task}"
        );
    }
    let second = summary(tmp.path(), "001");
    for task in second["task_list"].as_array().expect("tasks") {
        assert_eq!(task["status"], "cached", "{task}");
        assert!(
            task.get("worker").is_none() && task.get("start").is_none(),
            "{task}"
        );
        assert!(task["end"].as_f64().is_some(), "{task}");
    }

    let (path, page) = report(tmp.path(), &["0"]);
    assert_eq!(path, Path::new("runinfo").join("000").join("report.html"));
    assert_self_contained(&page);
    assert!(page.contains("wf run 000") && page.contains("succeeded"));
    let data = timeline_data(&page);
    let tasks = first["task_list"].as_array().expect("tasks").len();
    assert_eq!(data["runs"].as_array().expect("runs").len(), tasks);
    assert_eq!(data["lanes"], 2);
    assert_eq!(data["detail"], true);
    for app in ["slow_double", "total", "centroid", "greet", "add"] {
        assert!(
            data["apps"]
                .as_array()
                .expect("apps")
                .iter()
                .any(|a| a == app),
            "{app}"
        );
        assert!(
            page.contains(&format!("<td><span class=\"swatch\" data-app=\"{app}\">")),
            "{app}"
        );
    }

    // The resumed run: every task a tick in the lane of tasks that did not run.
    let (_, page) = report(tmp.path(), &["1"]);
    let data = timeline_data(&page);
    assert_eq!(data["cached"].as_array().expect("cached").len(), tasks);
    assert!(data["runs"].as_array().expect("runs").is_empty());
}

#[test]
fn report_writes_where_it_is_told() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert!(run(tmp.path(), "basics", &["-j", "1"]).status.success());
    let (path, page) = report(tmp.path(), &["000", "-o", "out.html"]);
    assert_eq!(path, Path::new("out.html"));
    assert_self_contained(&page);
    assert!(!tmp.path().join("runinfo/000/report.html").exists());
}

#[test]
fn hostile_text_from_a_run_cannot_break_the_page() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let hostile = "</script><b>bold</b><script>alert(1)</script>";
    // A panic's message is the task's error, and it ends up in the summary and the page.
    let basics = module("basics");
    let out = wfrun_in(
        tmp.path(),
        &["call", basics.to_str().expect("UTF-8"), "boom", hostile],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let (_, page) = report(tmp.path(), &["0"]);
    assert_self_contained(&page);
    assert!(
        !page.contains("<b>bold"),
        "markup from the run reached the page"
    );
    assert_eq!(
        page.matches("<script").count(),
        2,
        "only the page's own scripts"
    );
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(
        page.contains("&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"),
        "shown as text"
    );
    let data = timeline_data(&page);
    let failed = data["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .expect("error")
            .contains(hostile),
        "{data}"
    );
    assert_eq!(failed[0]["lane"], 0);
}

#[test]
fn a_summary_written_before_timings_still_reports() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("runinfo/000");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let old = r#"{"id":"000","what":"workflow main of m.wasm","module":"ab","tasks":1,
        "executed":1,"cached":0,"failed":0,"attempts":1,"seconds":0.5,"ok":true,
        "task_list":[{"id":0,"app":"add","key":"cd","status":"executed","attempts":1,"seconds":0.1}]}"#;
    std::fs::write(dir.join("summary.json"), old).expect("write");
    let (_, page) = report(tmp.path(), &["0"]);
    assert!(
        page.contains("1 task(s) have no timing"),
        "the page says what it cannot draw"
    );
    let data = timeline_data(&page);
    assert_eq!(data["untimed"], 1);
    assert!(data["runs"].as_array().expect("runs").is_empty());
}

#[test]
fn bad_run_ids_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = wfrun_in(tmp.path(), &["report", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("there is no runinfo directory at runinfo"),
        "{}",
        text(&out.stderr)
    );

    assert!(run(tmp.path(), "basics", &["-j", "1"]).status.success());
    for (arg, expected) in [
        ("7", "run 007 has no summary"),
        ("seven", "`seven` is not a run id"),
        ("-1", "unexpected argument"),
    ] {
        let out = wfrun_in(tmp.path(), &["report", arg]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{arg}: expected `{expected}` in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = wfrun_in(tmp.path(), &["report", "0", "-o", "no/such/dir/r.html"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("writing no/such/dir/r.html"),
        "{}",
        text(&out.stderr)
    );
}
