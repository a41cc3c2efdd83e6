//! `wfrun run`, `wfrun runs` and `wfrun show` as a user runs them: what a workflow prints, the
//! summary, the records a run leaves, exit codes, and per-task limits given on the command line.
//!
//! Each test works in its own temporary directory, where `wfrun` finds `runinfo/` by default.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod fixtures;
use fixtures::{module, text, wfrun};

/// `wfrun` working in `dir`.
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

/// `wfrun ARGS...` in `dir`.
fn wfrun_out(dir: &Path, args: &[&str]) -> Output {
    wfrun_in(dir).args(args).output().expect("run wfrun")
}

/// What a command printed on stdout, as JSON; it must have succeeded.
fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// `wfrun show RUN --json` in `dir`.
fn show(dir: &Path, run: &str) -> Value {
    json(&wfrun_out(dir, &["show", run, "--json"]))
}

/// The entries of a run's `task_list` for `app`.
fn tasks_of<'a>(report: &'a Value, app: &str) -> Vec<&'a Value> {
    report["task_list"]
        .as_array()
        .expect("task_list is a list")
        .iter()
        .filter(|t| t["app"] == app)
        .collect()
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

#[test]
fn run_prints_the_workflows_output_and_a_summary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), "basics", &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        text(&out.stdout),
        "20\nHello, wf, wf!\ncentroid (2, 1)\n7 + 35 = 42\n"
    );
    // One paragraph: the run, its verdict, its counts, and where its records are.
    let summary = stderr.trim_end();
    assert!(!summary.contains('\n'), "one paragraph: {stderr}");
    assert!(
        summary.starts_with("wf: run 000 succeeded: 9 tasks in "),
        "{stderr}"
    );
    assert!(
        summary.contains("9 executed, 0 cached, 0 failed"),
        "{stderr}"
    );
    assert!(
        summary.ends_with("Records and logs: runinfo/000"),
        "{stderr}"
    );

    let summary_file = tmp.path().join("runinfo/000/summary.json");
    let recorded: Value = serde_json::from_slice(
        &std::fs::read(&summary_file).expect("runinfo/000/summary.json exists"),
    )
    .expect("summary.json is JSON");
    assert_eq!(recorded["id"], "000");
    assert_eq!(recorded["ok"], true);
    assert_eq!(recorded["tasks"], 9);

    // The next run is the next number.
    let again = run(tmp.path(), "basics", &[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(again.stdout, out.stdout);
    assert!(
        text(&again.stderr).starts_with("wf: run 001 succeeded"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn a_failing_workflow_exits_1_and_names_the_failed_dependency() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), "basics", &["--entry", "failing"]);
    assert_fails(
        &out,
        1,
        "dependency task 0 (`divide`) failed: app error: cannot divide 1 by 0",
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the workflow `failing` failed"), "{stderr}");
    assert!(stderr.contains("wf: run 000 FAILED: 2 tasks"), "{stderr}");
    assert!(
        stderr.contains("0 executed, 0 cached, 2 failed"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("unreachable"));
    assert_eq!(show(tmp.path(), "0")["ok"], false);
}

#[test]
fn an_unknown_entry_exits_2_and_lists_the_workflows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(tmp.path(), "basics", &["--entry", "nope"]);
    assert_fails(
        &out,
        2,
        "has no workflow `nope`; its workflows: failing, main",
    );
    // Nothing ran, so no run was recorded.
    assert!(!tmp.path().join("runinfo/000").exists());
}

#[test]
fn run_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let basics = module("basics");
    let basics = basics.to_str().expect("a UTF-8 path");
    let cases: &[(&[&str], &str)] = &[
        (&["run", "/no/such/flow.wasm"], "reading /no/such/flow.wasm"),
        (&["run", basics, "--timeout", "soon"], "--timeout"),
        (&["run", basics, "-j", "0"], "--jobs"),
        (&["run", basics, "--app-retries", "forever"], "is not APP=N"),
        (
            &["run", basics, "--fuel", "lots"],
            "invalid value 'lots' for '--fuel <N>'",
        ),
    ];
    for (args, expected) in cases {
        assert_fails(&wfrun_out(tmp.path(), args), 2, expected);
    }
    assert!(!tmp.path().join("runinfo/000").exists());
}

#[test]
fn runs_and_show_report_each_run_and_task() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    assert!(run(dir, "basics", &[]).status.success());
    assert_eq!(
        run(dir, "basics", &["--entry", "failing"]).status.code(),
        Some(1)
    );

    let runs = json(&wfrun_out(dir, &["runs", "--json"]));
    let runs = runs.as_array().expect("a list of runs");
    assert_eq!(runs.len(), 2, "{runs:?}");
    for (run, (id, tasks, executed, failed)) in
        runs.iter().zip([("000", 9, 9, 0), ("001", 2, 0, 2)])
    {
        assert_eq!(run["id"], id, "{run}");
        assert_eq!(run["tasks"], tasks, "{run}");
        assert_eq!(run["executed"], executed, "{run}");
        assert_eq!(run["cached"], 0, "{run}");
        assert_eq!(run["failed"], failed, "{run}");
        let seconds = run["seconds"].as_f64().expect("seconds is a number");
        assert!(seconds > 0.0 && seconds < 60.0, "{run}");
        assert!(run.get("task_list").is_none(), "runs lists no tasks: {run}");
    }

    let main = show(dir, "0");
    let list = main["task_list"].as_array().expect("task_list");
    assert_eq!(list.len(), 9, "one entry per task: {main}");
    for task in list {
        assert_eq!(task["status"], "executed", "{task}");
        assert_eq!(task["attempts"], 1, "{task}");
        let key = task["key"].as_str().expect("key is a string");
        assert!(
            key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
            "{task}"
        );
        assert!(task["seconds"].as_f64().is_some_and(|s| s >= 0.0), "{task}");
    }
    let apps: Vec<&str> = list.iter().filter_map(|t| t["app"].as_str()).collect();
    assert_eq!(
        apps,
        [
            "slow_double",
            "slow_double",
            "slow_double",
            "slow_double",
            "slow_double",
            "total",
            "centroid",
            "greet",
            "add"
        ],
        "in submission order"
    );

    let failing = show(dir, "001");
    let divide = tasks_of(&failing, "divide");
    assert_eq!(divide.len(), 1);
    assert_eq!(divide[0]["status"], "failed");
    assert_eq!(divide[0]["attempts"], 1);
    assert_eq!(divide[0]["error"]["kind"], "app error");
    let add = tasks_of(&failing, "add");
    assert_eq!(add[0]["status"], "failed");
    assert_eq!(add[0]["attempts"], 0, "it never ran: {failing}");
    assert_eq!(add[0]["error"]["kind"], "dependency failed");

    // The human forms are tables.
    let out = wfrun_out(dir, &["runs"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and a row per run: {stdout}");
    for column in ["run", "tasks", "executed", "cached", "failed", "seconds"] {
        assert!(lines[0].contains(column), "{stdout}");
    }
    assert!(lines[1].trim_start().starts_with("000"), "{stdout}");
    assert!(!lines[1].contains("[failed]"), "{stdout}");
    assert!(lines[2].trim_start().starts_with("001"), "{stdout}");
    assert!(lines[2].ends_with("[failed]"), "{stdout}");

    let out = wfrun_out(dir, &["show", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("run 001: workflow failing of "),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 tasks, 0 executed, 0 cached, 2 failed"),
        "{stdout}"
    );
    let header = stdout
        .lines()
        .find(|l| l.contains("status"))
        .expect("a table header");
    for column in ["task", "app", "status", "attempts", "seconds", "key"] {
        assert!(header.contains(column), "{stdout}");
    }
    let divide_row = stdout
        .lines()
        .find(|l| l.contains("divide"))
        .expect("a row for divide");
    assert!(divide_row.contains("failed"), "{stdout}");
    assert!(stdout.contains("cannot divide 1 by 0"), "{stdout}");
    // `1` and `001` are the same run.
    assert_eq!(wfrun_out(dir, &["show", "001"]).stdout, out.stdout);
}

#[test]
fn runs_and_show_of_what_does_not_exist_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    assert_fails(
        &wfrun_out(dir, &["runs"]),
        2,
        "there is no runinfo directory at runinfo",
    );
    assert_fails(
        &wfrun_out(dir, &["runs", "--json", "--runinfo", "/no/such/runinfo"]),
        2,
        "there is no runinfo directory at /no/such/runinfo",
    );
    assert_fails(
        &wfrun_out(dir, &["show", "0"]),
        2,
        "there is no runinfo directory at runinfo",
    );

    assert!(run(dir, "basics", &[]).status.success());
    assert_fails(&wfrun_out(dir, &["show", "5"]), 2, "run 005 has no summary");
    assert_fails(
        &wfrun_out(dir, &["show", "5", "--json"]),
        2,
        "does not exist",
    );
    assert_fails(
        &wfrun_out(dir, &["show", "latest"]),
        2,
        "`latest` is not a run id",
    );
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn runs_tells_a_live_run_from_an_interrupted_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // `forever` keeps the run going until its timeout, long after this test is done with it.
    let child = wfrun_in(dir)
        .arg("run")
        .arg(module("probes"))
        .args(["--entry", "runaway", "--timeout", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wfrun run");
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = wfrun_out(dir, &["runs", "--json"]);
        if out.status.success() && json(&out)[0]["what"] == "(running)" {
            break;
        }
        assert!(Instant::now() < deadline, "the run never showed as running");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = wfrun_out(dir, &["runs"]);
    assert!(
        text(&out.stdout).contains("(running)"),
        "{}",
        text(&out.stdout)
    );
    assert_fails(
        &wfrun_out(dir, &["show", "0"]),
        2,
        "run 000 has no summary (it is running, or was interrupted)",
    );

    child.0.kill().expect("kill the run");
    child.0.wait().expect("reap the run");
    let runs = json(&wfrun_out(dir, &["runs", "--json"]));
    assert_eq!(runs[0]["id"], "000", "{runs}");
    assert_eq!(runs[0]["what"], "(no summary: interrupted)", "{runs}");
    assert_eq!(runs[0]["ok"], false, "{runs}");
}

#[test]
fn wordfreq_prints_the_same_with_one_or_two_workers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        // A runinfo each, so that both runs execute every task.
        let dir = tmp.path().join(jobs);
        std::fs::create_dir(&dir).expect("mkdir");
        let out = run(&dir, "wordfreq", &["-j", jobs]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "-j {jobs}: {stderr}");
        assert!(stderr.contains(" executed, 0 cached, 0 failed"), "{stderr}");
        outputs.push(text(&out.stdout));
    }
    assert!(
        outputs[0].contains("the 10 most frequent"),
        "{}",
        outputs[0]
    );
    assert_eq!(outputs[0], outputs[1]);
}

/// Runs the `runaway` workflow of `apps/probes` in `dir` with `flags`: it must fail soon, its
/// `forever` task must fail with `expected`, its `noop` must answer. Returns `show --json` of it.
fn runaway(dir: &Path, flags: &[&str], expected: &str) -> Value {
    let start = Instant::now();
    let out = run(dir, "probes", &[&["--entry", "runaway"], flags].concat());
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the limit stopped it"
    );
    assert_fails(&out, 1, expected);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the workflow `runaway` failed"), "{stderr}");
    assert!(stderr.contains("app `forever` failed"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("noop answered 7"), "{stdout}");
    assert!(!stdout.contains("forever returned"), "{stdout}");

    let id = stderr
        .split("wf: run ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .expect("the summary names the run");
    let report = show(dir, id);
    assert_eq!(tasks_of(&report, "forever")[0]["status"], "failed");
    // The summary printed and the one recorded agree.
    let counts = format!(
        "{} executed, {} cached, {} failed",
        report["executed"], report["cached"], report["failed"]
    );
    assert!(stderr.contains(&counts), "{counts}: {stderr}");
    report
}

#[test]
fn a_runaway_task_is_stopped_by_a_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = runaway(
        tmp.path(),
        &["--timeout", "200ms"],
        "the task ran longer than its wall-clock timeout of 200ms (raise it with --timeout)",
    );
    let forever = tasks_of(&report, "forever")[0];
    assert_eq!(forever["error"]["kind"], "timeout", "{report}");
    assert_eq!(forever["attempts"], 1, "{report}");
    assert_eq!(tasks_of(&report, "noop")[0]["status"], "executed");
    assert_eq!(
        (&report["executed"], &report["cached"], &report["failed"]),
        (&1.into(), &0.into(), &1.into())
    );
}

#[test]
fn a_runaway_task_is_stopped_by_fuel() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = runaway(
        tmp.path(),
        &["--fuel", "1000000"],
        "the task used up its fuel limit of 1000000 units (raise it with --fuel)",
    );
    let forever = tasks_of(&report, "forever")[0];
    assert_eq!(forever["error"]["kind"], "fuel exhausted", "{report}");
    assert_eq!(tasks_of(&report, "noop")[0]["status"], "executed");
}

/// DESIGN §3.6: a timeout is never recorded; with `--cache-failures` a fuel exhaustion is, and a
/// resumed run replays it instead of running the task again.
#[test]
fn with_cache_failures_a_fuel_failure_is_reused_and_a_timeout_is_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let flags = ["--timeout", "200ms", "--cache-failures", "--resume"];
    runaway(dir, &flags, "wall-clock timeout of 200ms");
    let again = runaway(dir, &flags, "wall-clock timeout of 200ms");
    assert_eq!(tasks_of(&again, "forever")[0]["attempts"], 1, "{again}");
    assert_eq!(tasks_of(&again, "noop")[0]["status"], "cached", "{again}");

    let flags = ["--fuel", "100000", "--cache-failures", "--resume"];
    let first = runaway(dir, &flags, "fuel limit of 100000 units");
    assert_eq!(tasks_of(&first, "forever")[0]["attempts"], 1, "{first}");
    let again = runaway(dir, &flags, "fuel limit of 100000 units");
    let forever = tasks_of(&again, "forever")[0];
    assert_eq!(forever["status"], "failed", "{again}");
    assert_eq!(forever["attempts"], 0, "replayed, not run: {again}");
    assert_eq!(forever["key"], tasks_of(&first, "forever")[0]["key"]);
    assert_eq!(again["executed"], 0, "{again}");
}

#[test]
/// Regression: a replayed failure was reported under its Debug name with no kind.
fn a_replayed_failure_keeps_its_kind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let flags = ["--fuel", "100000", "--cache-failures", "--resume"];
    let first = runaway(
        dir,
        &flags,
        "fuel exhausted: the task used up its fuel limit",
    );
    assert_eq!(
        tasks_of(&first, "forever")[0]["error"]["kind"],
        "fuel exhausted"
    );
    let again = runaway(dir, &flags, "fuel exhausted");
    let forever = tasks_of(&again, "forever")[0];
    assert_eq!(forever["attempts"], 0, "replayed: {again}");
    assert_eq!(forever["error"]["kind"], "fuel exhausted", "{again}");
    let message = forever["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("FuelExhausted"), "{message}");
}

#[test]
fn retries_are_attempts_of_the_same_task() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let report = runaway(
        dir,
        &["--retries", "2", "--timeout", "100ms"],
        "wall-clock timeout of 100ms",
    );
    assert_eq!(tasks_of(&report, "forever")[0]["attempts"], 3, "{report}");
    assert_eq!(tasks_of(&report, "noop")[0]["attempts"], 1, "{report}");
    assert_eq!(report["attempts"], 4, "{report}");
    let out = wfrun_out(dir, &["show", "0"]);
    let forever_row = text(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("forever"))
        .map(str::to_owned)
        .expect("a row for forever");
    assert!(
        forever_row.split_whitespace().nth(3) == Some("3"),
        "attempts column: {forever_row}"
    );

    // A per-app count overrides the global one.
    let report = runaway(
        dir,
        &[
            "--retries",
            "2",
            "--app-retries",
            "forever=1",
            "--timeout",
            "100ms",
        ],
        "wall-clock timeout of 100ms",
    );
    assert_eq!(tasks_of(&report, "forever")[0]["attempts"], 2, "{report}");
}

#[test]
fn call_takes_the_same_limit_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let call = |args: &[&str]| {
        wfrun_in(tmp.path())
            .arg("call")
            .arg(module("probes"))
            .args(args)
            .output()
            .expect("run wfrun call")
    };
    assert_fails(
        &call(&["forever", "--timeout", "200ms"]),
        1,
        "task `forever` failed (timeout): the task ran longer than its wall-clock timeout of 200ms",
    );
    assert_fails(
        &call(&["forever", "--fuel", "100000"]),
        1,
        "task `forever` failed (fuel exhausted): the task used up its fuel limit of 100000 units",
    );
    // A task within its limits is unaffected by them.
    let out = call(&["noop", "5", "--fuel", "100000", "--timeout", "5s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5\n");
}
