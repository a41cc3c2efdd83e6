//! What a run reports: the summary `wfrun runs` and `wfrun show` print, stored as the run's
//! `summary.json`.

use serde::{Deserialize, Serialize};

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatusReport {
    /// It ran in a sandbox and succeeded.
    Executed,
    /// Its result came from the memo table (or an identical task in flight).
    Cached,
    /// It failed (itself, or a dependency did).
    Failed,
    /// It had not ended when the run stopped.
    Pending,
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    /// The failure kind (`app error`, `trap`, `dependency failed`, ...).
    pub kind: Option<String>,
    /// The message.
    pub message: String,
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// Its id within the run (submission order).
    pub id: u64,
    /// The app.
    pub app: String,
    /// Its key, as hex (empty when it never got one: a dependency failed first).
    pub key: String,
    /// How it ended.
    pub status: TaskStatusReport,
    /// Attempts made (0 for a cached task).
    pub attempts: u32,
    /// Seconds spent executing, over all attempts.
    pub seconds: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// The worker its last attempt ran on, numbered from 0 (a thread of the local backend);
    /// `None` when it did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<u32>,
    /// When its last attempt started, in seconds since the run's start; `None` when it did not
    /// run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    /// When it ended, in seconds since the run's start: the end of its last attempt, or when it
    /// resolved without running (cached, or failed because a dependency did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
}

/// A run's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run's id (`000`, ...), when it was recorded in a runinfo directory.
    pub id: Option<String>,
    /// What ran: `workflow main of m.wasm`, `call add`, ...
    pub what: String,
    /// The module's digest.
    pub module: String,
    /// Tasks submitted.
    pub tasks: u64,
    /// Tasks executed in a sandbox.
    pub executed: u64,
    /// Tasks whose result was reused.
    pub cached: u64,
    /// Tasks that failed.
    pub failed: u64,
    /// Attempts made in all (retries included).
    pub attempts: u64,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// When the run started, in milliseconds since the Unix epoch (absent in summaries written
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_unix_ms: Option<u64>,
    /// How many workers executed tasks (the lanes of the timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Whether the run succeeded (the workflow returned `Ok` and no task failed).
    pub ok: bool,
    /// The workflow's own error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One entry per task, in submission order.
    #[serde(default)]
    pub task_list: Vec<TaskReport>,
}
