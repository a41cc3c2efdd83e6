//! Why a task failed, classified once (here) into what the caller can do about it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The kind of a task failure. The first group is deterministic (same key, same failure on any
/// machine) and may be memoized when the user asks for it; the second never is (DESIGN §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// The app returned `Err`.
    AppError,
    /// The app panicked.
    Panic,
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow, ...).
    Trap,
    /// The task used up its fuel limit.
    FuelExhausted,
    /// The task tried to grow its memory past the memory ceiling.
    MemoryLimit,
    /// An argument did not decode as its parameter's type.
    BadInput,
    /// A task this one depends on failed.
    Dependency,
    /// The task ran past its wall-clock timeout.
    Timeout,
    /// The task was cancelled before it finished.
    Cancelled,
    /// Something outside the guest went wrong (I/O, resources of the host, a broken module).
    Infrastructure,
}

impl FailureKind {
    /// Whether the same task — the same key — fails the same way on every run and machine, so
    /// that recording the failure is sound (`cache_failures`). Running out of fuel is: the fuel
    /// limit is part of the key. Hitting the memory ceiling is not: the ceiling is a setting
    /// outside the key, and a run with a higher one must try again.
    pub fn is_deterministic(self) -> bool {
        match self {
            FailureKind::AppError
            | FailureKind::Panic
            | FailureKind::Trap
            | FailureKind::FuelExhausted
            | FailureKind::BadInput => true,
            FailureKind::MemoryLimit
            | FailureKind::Dependency
            | FailureKind::Timeout
            | FailureKind::Cancelled
            | FailureKind::Infrastructure => false,
        }
    }

    /// A short lowercase name, as shown to users and stored in records.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::AppError => "app error",
            FailureKind::Panic => "panic",
            FailureKind::Trap => "trap",
            FailureKind::FuelExhausted => "fuel exhausted",
            FailureKind::MemoryLimit => "memory limit",
            FailureKind::BadInput => "bad input",
            FailureKind::Dependency => "dependency failed",
            FailureKind::Timeout => "timeout",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Infrastructure => "infrastructure",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed task: its kind and a message for people (the app's error, the trap and its wasm
/// backtrace, which limit was hit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TaskFailure {
    /// What happened.
    pub kind: FailureKind,
    /// Details.
    pub message: String,
}

impl TaskFailure {
    pub(crate) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        TaskFailure {
            kind,
            message: message.into(),
        }
    }
}

/// What the sandbox saw happen during a call, besides the error wasmtime returned.
#[derive(Debug, Default)]
pub(crate) struct CallEvidence {
    /// The panic message the guest reported before it trapped.
    pub panic: Option<String>,
    /// The memory size (bytes) a denied `memory.grow` asked for.
    pub memory_denied: Option<u64>,
    /// A host function refused the guest's request (e.g. a workflow import called from an app).
    pub host_refusal: Option<String>,
}

/// The limits in force, to name them in messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LimitsInForce {
    pub fuel: Option<u64>,
    pub timeout: Option<Duration>,
    pub memory_bytes: u64,
}

/// Whether an instantiation failed because every slot of the engine's pool was in use: the
/// pooling allocator refuses at once rather than waiting for a slot.
pub(crate) fn pool_exhausted(error: &wasmtime::Error) -> bool {
    error.is::<wasmtime::PoolConcurrencyLimitError>()
}

/// Why an instance could not be made, for people. Not the guest's fault when the pool is full,
/// so that case names the pool and what to do about it.
pub(crate) fn instantiation_message(error: &wasmtime::Error, slots: u32) -> String {
    if pool_exhausted(error) {
        no_free_slot_message(slots)
    } else {
        format!("{error:#}")
    }
}

/// The message for a full pool of `slots` instance slots.
pub(crate) fn no_free_slot_message(slots: u32) -> String {
    format!(
        "all {slots} instance slots of the engine are in use (tasks, workflows and module \
         loads alive at once); the engine has one per worker plus {} spare, see \
         EngineSettings::max_instances",
        super::EngineSettings::SPARE_INSTANCES
    )
}

/// Classifies a wasmtime error from running a guest. This is the one place that interprets
/// wasmtime's errors (STYLE: wasmtime errors are classified in one function inside `sandbox`).
pub(crate) fn classify(
    error: &wasmtime::Error,
    evidence: &CallEvidence,
    limits: LimitsInForce,
) -> TaskFailure {
    let backtrace = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| bt.to_string())
        .filter(|bt| !bt.trim().is_empty());
    let with_backtrace = |message: String| match &backtrace {
        Some(bt) => format!("{message}\n{bt}"),
        None => message,
    };
    if let Some(message) = &evidence.host_refusal {
        return TaskFailure::new(FailureKind::Trap, message.clone());
    }
    if let Some(message) = &evidence.panic {
        return TaskFailure::new(FailureKind::Panic, message.clone());
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => TaskFailure::new(
            FailureKind::FuelExhausted,
            format!(
                "the task used up its fuel limit of {} units (raise it with --fuel)",
                limits.fuel.unwrap_or_default()
            ),
        ),
        Some(wasmtime::Trap::Interrupt) => TaskFailure::new(
            FailureKind::Timeout,
            format!(
                "the task ran longer than its wall-clock timeout of {} (raise it with --timeout)",
                limits
                    .timeout
                    .map(|t| format!("{t:?}"))
                    .unwrap_or_else(|| "?".into())
            ),
        ),
        Some(trap) => {
            if let Some(requested) = evidence.memory_denied {
                return TaskFailure::new(
                    FailureKind::MemoryLimit,
                    format!(
                        "the task tried to grow its memory to {} MiB, past the memory ceiling of {} MiB (raise it with --memory), and then trapped: {trap}",
                        requested / (1 << 20),
                        limits.memory_bytes / (1 << 20)
                    ),
                );
            }
            TaskFailure::new(FailureKind::Trap, with_backtrace(trap.to_string()))
        }
        None => {
            if let Some(requested) = evidence.memory_denied {
                return TaskFailure::new(
                    FailureKind::MemoryLimit,
                    format!(
                        "the task tried to grow its memory to {} MiB, past the memory ceiling of {} MiB (raise it with --memory): {error}",
                        requested / (1 << 20),
                        limits.memory_bytes / (1 << 20)
                    ),
                );
            }
            // A WASI `proc_exit` or an error raised by a host function: deterministic from the
            // guest's point of view, so report it as a trap with the full chain.
            TaskFailure::new(FailureKind::Trap, with_backtrace(format!("{error:#}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guest_failures_are_deterministic() {
        assert!(FailureKind::AppError.is_deterministic());
        assert!(FailureKind::FuelExhausted.is_deterministic());
        assert!(!FailureKind::Timeout.is_deterministic());
        assert!(!FailureKind::Infrastructure.is_deterministic());
        assert!(!FailureKind::Cancelled.is_deterministic());
        assert!(
            !FailureKind::MemoryLimit.is_deterministic(),
            "the memory ceiling is not in the key"
        );
    }
}
