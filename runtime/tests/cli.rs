//! The `wfrun` binary as a user runs it: outputs, exit codes and error messages.

use std::path::{Path, PathBuf};
use std::process::Output;

mod fixtures;
use fixtures::{text, wfrun, workspace};

/// `apps/basics` built with `wfrun build` itself.
fn basics() -> PathBuf {
    fixtures::module("basics")
}

fn call(runinfo: &Path, args: &[&str]) -> Output {
    wfrun()
        .arg("call")
        .arg(basics())
        .args(args)
        .arg("--runinfo")
        .arg(runinfo)
        .output()
        .expect("run wfrun call")
}

/// Golden help text: regenerate with `WF_BLESS=1 cargo test -p wf-runtime --test cli`.
#[test]
fn help_is_as_documented() {
    let golden = workspace().join("runtime/tests/golden/help.txt");
    let mut help = String::new();
    // Every subcommand the top-level help lists, so a new one cannot go unpinned.
    let top = wfrun().arg("--help").output().expect("run wfrun --help");
    let subcommands: Vec<String> = text(&top.stdout)
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|s| s != "help")
        .collect();
    assert!(subcommands.len() >= 6, "{subcommands:?}");
    for sub in std::iter::once(None).chain(subcommands.iter().map(|s| Some(s.as_str()))) {
        let mut cmd = wfrun();
        cmd.args(sub).arg("--help");
        let out = cmd.output().expect("run wfrun --help");
        assert!(out.status.success());
        help.push_str(&format!(
            "$ wfrun {}--help\n{}\n",
            sub.map(|s| format!("{s} ")).unwrap_or_default(),
            text(&out.stdout)
        ));
    }
    if std::env::var_os("WF_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().expect("parent")).expect("mkdir");
        std::fs::write(&golden, &help).expect("bless");
    }
    let expected = std::fs::read_to_string(&golden).expect("golden help (bless with WF_BLESS=1)");
    assert_eq!(
        help, expected,
        "help changed: rerun with WF_BLESS=1 if intended"
    );
}

#[test]
fn inspect_lists_apps_and_workflows() {
    let out = wfrun().arg("inspect").arg(basics()).output().expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("  divide(a: i64, b: i64) -> Result<i64, _>\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  fresh(x: u64) -> u64    [cache = false]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("workflows:\n  failing\n  main\n"),
        "{stdout}"
    );

    let out = wfrun()
        .arg("inspect")
        .arg(basics())
        .arg("--json")
        .output()
        .expect("run");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let add = doc["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["name"] == "add")
        .expect("add");
    assert_eq!(add["params"][1]["name"], "b");
    assert_eq!(add["params"][1]["type"], "i64");
    assert_eq!(doc["digest"].as_str().map(str::len), Some(64));
}

#[test]
fn call_refuses_apps_that_take_or_make_files_and_records_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    for args in [&["write_chunk", "1", "10"][..], &["count_file", "{}"][..]] {
        let out = wfrun()
            .arg("call")
            .arg(fixtures::module("wordfreq"))
            .args(args)
            .arg("--runinfo")
            .arg(&runinfo)
            .output()
            .expect("run wfrun call");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("takes or makes files"),
            "{}",
            text(&out.stderr)
        );
    }
    // Nothing was run, so no run directory was made.
    let runs = std::fs::read_dir(&runinfo)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with('0'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(runs, 0);
}

#[test]
fn call_prints_json_and_the_second_call_is_a_cache_hit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let first = call(
        &runinfo,
        &["centroid", r#"[{"x":0.0,"y":0.0},{"x":2.0,"y":4.0}]"#],
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "{\"x\":1.0,\"y\":2.0}\n");
    assert!(
        !text(&first.stderr).contains("cache hit"),
        "{}",
        text(&first.stderr)
    );

    let second = call(
        &runinfo,
        &["centroid", r#"[{"x":0.0,"y":0.0},{"x":2.0,"y":4.0}]"#],
    );
    assert!(second.status.success());
    assert_eq!(second.stdout, first.stdout);
    assert!(
        text(&second.stderr).contains("cache hit"),
        "{}",
        text(&second.stderr)
    );

    // Another argument is another task.
    let third = call(&runinfo, &["centroid", "[]"]);
    assert!(!text(&third.stderr).contains("cache hit"));
    // An app with `cache = false` is never a hit.
    call(&runinfo, &["fresh", "1"]);
    assert!(!text(&call(&runinfo, &["fresh", "1"]).stderr).contains("cache hit"));
}

#[test]
fn a_failing_app_exits_1_and_shows_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = call(tmp.path(), &["divide", "1", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot divide 1 by 0"),
        "{}",
        text(&out.stderr)
    );
    let out = call(tmp.path(), &["boom", "bang"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("panic"), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("boom: bang"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &str)] = &[
        (
            &["nope"],
            "has no app `nope`; its apps are:\n  add(a: i64, b: i64) -> i64",
        ),
        (
            &["add", "1"],
            "app `add` takes 2 argument(s) (add(a: i64, b: i64) -> i64), but 1 were given",
        ),
        (
            &["add", "1", "\"two\""],
            "argument 2 (`b`) does not fit the parameter's type `i64`: got \"two\"",
        ),
        (
            &["total", "[1,"],
            "argument 1 (`xs: Vec<i64>`) is not valid JSON",
        ),
    ];
    for (args, expected) in cases {
        let out = call(tmp.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn bad_modules_exit_2_and_say_what_is_wrong() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let not_wasm = tmp.path().join("notes.wasm");
    std::fs::write(&not_wasm, "these are my notes").expect("write");
    let no_sdk = tmp.path().join("empty.wasm");
    std::fs::write(&no_sdk, b"\0asm\x01\0\0\0").expect("write");
    for (path, expected) in [
        (not_wasm.as_path(), "not a WebAssembly module"),
        (no_sdk.as_path(), "not built with the wf guest SDK"),
        (
            Path::new("/no/such/module.wasm"),
            "reading /no/such/module.wasm",
        ),
    ] {
        let out = wfrun().arg("inspect").arg(path).output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
    // A misspelled flag is a usage error too.
    let out = wfrun().args(["call", "--fule", "3"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}
