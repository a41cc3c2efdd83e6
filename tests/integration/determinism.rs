//! A guest sees no ambient clock, randomness, environment or filesystem (DESIGN §3.2).

use super::*;

fn key(n: u8) -> TaskKey {
    TaskKey([n; 32])
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct ClockReading {
    unix_nanos: u64,
    elapsed_nanos: u64,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Ambient {
    env: Vec<String>,
    args: Vec<String>,
    etc_passwd: String,
    root: Vec<String>,
    current_dir: Vec<String>,
}

#[test]
fn clocks_are_virtual_and_repeatable() {
    let (sandbox, module) = load("probes");
    let first: ClockReading = dec(&sandbox.call(&module, "clock", &[], &key(1)));
    let second: ClockReading = dec(&sandbox.call(&module, "clock", &[], &key(2)));
    assert_eq!(
        first, second,
        "the same reading on every run, whatever the key"
    );
    // 2000-01-01, not today.
    assert!(
        first.unix_nanos / 1_000_000_000 < 1_000_000_000,
        "{first:?}"
    );
    assert!(
        first.elapsed_nanos > 0,
        "time still moves forward inside a task"
    );
}

#[test]
fn randomness_is_seeded_by_the_task_key() {
    let (sandbox, module) = load("probes");
    let draw = |k: u8| dec::<u64>(&sandbox.call(&module, "random", &[], &key(k)));
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
}

#[test]
fn nothing_ambient_is_visible() {
    let (sandbox, module) = load("probes");
    let seen: Ambient = dec(&sandbox.call(&module, "ambient", &[], &key(1)));
    assert!(seen.env.is_empty(), "{seen:?}");
    assert!(seen.args.is_empty(), "{seen:?}");
    assert!(seen.etc_passwd.starts_with("error"), "{seen:?}");
    assert!(
        seen.root.len() == 1 && seen.root[0].starts_with("error"),
        "{seen:?}"
    );
    assert!(
        seen.current_dir.len() == 1 && seen.current_dir[0].starts_with("error"),
        "{seen:?}"
    );
}

#[test]
fn nans_are_canonical() {
    let (sandbox, module) = load("probes");
    let canonical = f64::NAN.to_bits();
    let nan: f64 = dec(&sandbox.call(&module, "nan", &[], &key(1)));
    assert_eq!(
        nan.to_bits(),
        canonical,
        "0/0 is x86's negative NaN unless canonicalized"
    );
    let payload: f64 = dec(&sandbox.call(
        &module,
        "nan_payload",
        &[&enc(&0x7ff0_0000_0000_0001u64)],
        &key(1),
    ));
    assert_eq!(payload.to_bits(), canonical);
}

#[test]
fn guest_output_is_captured_not_printed() {
    let (sandbox, module) = load("probes");
    let run = sandbox.call(&module, "chatty", &[&enc(&3u32)], &key(1));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "stdout line 0\nstdout line 1\nstdout line 2\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "stderr: wrote 3 lines\n"
    );
}
