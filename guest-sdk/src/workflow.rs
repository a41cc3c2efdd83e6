//! What a workflow may return.

use std::fmt::Display;

/// The return type of a `#[workflow]` function: `()` or `Result<(), E>` with a displayable `E`
/// (usually the prelude's `Result<()>`).
#[diagnostic::on_unimplemented(
    message = "a workflow must return `()` or `Result<(), E>` with `E: Display`, not `{Self}`",
    label = "not a workflow's return type"
)]
pub trait WorkflowOutcome {
    /// `Ok`, or the message the host reports as the workflow's failure.
    fn into_outcome(self) -> Result<(), String>;
}

impl WorkflowOutcome for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> WorkflowOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// Compiles only when `R` can be a workflow's return type; `#[workflow]` spans it on the type.
pub const fn assert_outcome<R: WorkflowOutcome>() {}
