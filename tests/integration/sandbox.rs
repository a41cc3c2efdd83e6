//! Apps run in the sandbox: results, errors, panics, traps, bad input.

use wf_runtime::FailureKind;

use super::*;

#[test]
fn apps_compute_their_results() {
    let (sandbox, module) = load("basics");
    assert_eq!(
        dec::<i64>(&call_raw(
            &sandbox,
            &module,
            "add",
            &[enc(&2i64), enc(&40i64)]
        )),
        42
    );
    assert_eq!(
        dec::<i64>(&call_raw(
            &sandbox,
            &module,
            "total",
            &[enc(&vec![1i64, 2, 3])]
        )),
        6
    );
    let greeting: String = dec(&call_raw(
        &sandbox,
        &module,
        "greet",
        &[enc("wf"), enc(&1u32)],
    ));
    assert_eq!(greeting, "Hello, wf!");
}

#[test]
fn describes_its_apps_with_names_types_and_flags() {
    let (_, module) = load("basics");
    let divide = module.app("divide").expect("divide is an app");
    assert!(divide.fallible);
    assert_eq!(
        wf_runtime::signature(divide),
        "divide(a: i64, b: i64) -> Result<i64, _>"
    );
    assert!(!module.app("fresh").expect("fresh").cache);
    assert!(module.app("add").expect("add").cache);
    assert_eq!(module.workflows(), ["failing", "main"]);
}

#[test]
fn an_err_is_an_app_error_with_its_message() {
    let (sandbox, module) = load("basics");
    let run = call_raw(&sandbox, &module, "divide", &[enc(&1i64), enc(&0i64)]);
    let failure = run.outcome.expect_err("dividing by zero fails");
    assert_eq!(failure.kind, FailureKind::AppError);
    assert_eq!(failure.message, "cannot divide 1 by 0");
}

#[test]
fn a_panic_is_a_failure_with_message_and_location() {
    let (sandbox, module) = load("basics");
    let run = call_raw(&sandbox, &module, "boom", &[enc("kaput")]);
    let failure = run.outcome.expect_err("boom panics");
    assert_eq!(failure.kind, FailureKind::Panic);
    assert!(
        failure.message.contains("boom: kaput"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("src/lib.rs"),
        "location: {}",
        failure.message
    );
}

#[test]
fn undecodable_arguments_are_bad_input_naming_the_parameter() {
    let (sandbox, module) = load("basics");
    // `greet(name: String, times: u32)`: a string of invalid UTF-8 for `name`.
    let run = call_raw(
        &sandbox,
        &module,
        "greet",
        &[vec![2, 0xff, 0xfe], enc(&1u32)],
    );
    let failure = run.outcome.expect_err("bad UTF-8");
    assert_eq!(failure.kind, FailureKind::BadInput);
    assert!(failure.message.contains("name"), "{}", failure.message);
}

#[test]
fn every_call_gets_a_fresh_instance() {
    let (sandbox, module) = load("probes");
    // `counter` bumps a static and returns it: a reused instance would answer 2.
    for _ in 0..3 {
        assert_eq!(dec::<u64>(&call_raw(&sandbox, &module, "counter", &[])), 1);
    }
}
