//! Compile-time behaviour of `#[app]` and `#[workflow]`: misuse is a spanned error, every accepted
//! shape compiles cleanly. Bless new `.stderr` files with `TRYBUILD=overwrite cargo test -p
//! wf-guest --test ui` and review them before committing.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/pass/*.rs");
}
