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

impl RunReport {
    /// The text of the run's `summary.json`: byte for byte what serializing the report in the
    /// summary's layout gives, with the task list (one line per task, a million in a large run)
    /// written directly rather than field by field through serde.
    pub(crate) fn summary_json(&mut self) -> serde_json::Result<Vec<u8>> {
        let tasks = std::mem::take(&mut self.task_list);
        let head = crate::runinfo::summary_to_vec(&*self);
        self.task_list = tasks;
        let mut out = head?;
        // The head ends with the empty list and the closing brace: `[]`, newline, `}`.
        if self.task_list.is_empty() || !out.ends_with(b"[]\n}") {
            return crate::runinfo::summary_to_vec(&*self);
        }
        out.truncate(out.len() - 3);
        let tasks = &self.task_list[..];
        if tasks.len() < PARALLEL_FROM {
            write_json_lines(&mut out, tasks)?;
        } else {
            // Two threads, each writing half the lines: the run is over, and this is the wait
            // between its last task and the end of `wfrun run`.
            let (first, second) = tasks.split_at(tasks.len() / 2);
            let rest = std::thread::scope(|scope| {
                let rest = scope.spawn(|| {
                    let mut rest = Vec::new();
                    write_json_lines(&mut rest, second).map(|()| rest)
                });
                write_json_lines(&mut out, first)?;
                match rest.join() {
                    Ok(rest) => rest,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })?;
            out.push(b',');
            out.extend_from_slice(&rest);
        }
        out.extend_from_slice(b"\n  ]\n}");
        Ok(out)
    }
}

/// From how many tasks a run's report lines are made, and written, on two threads.
pub(crate) const PARALLEL_FROM: usize = 4096;

/// Appends one line per task, comma-separated (no comma before the first).
fn write_json_lines(out: &mut Vec<u8>, tasks: &[TaskReport]) -> serde_json::Result<()> {
    out.reserve(tasks.len() * 176);
    for (i, task) in tasks.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\n    ");
        task.write_json_line(out)?;
    }
    Ok(())
}

impl TaskReport {
    /// This task as compact JSON, as serde would write it.
    fn write_json_line(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(digits.format(self.id).as_bytes());
        out.extend_from_slice(b",\"app\":");
        json_str(out, &self.app)?;
        out.extend_from_slice(b",\"key\":");
        json_str(out, &self.key)?;
        out.extend_from_slice(match self.status {
            TaskStatusReport::Executed => b",\"status\":\"executed\"",
            TaskStatusReport::Cached => b",\"status\":\"cached\"",
            TaskStatusReport::Failed => b",\"status\":\"failed\"",
            TaskStatusReport::Pending => b",\"status\":\"pending\"",
        });
        out.extend_from_slice(b",\"attempts\":");
        out.extend_from_slice(digits.format(self.attempts).as_bytes());
        out.extend_from_slice(b",\"seconds\":");
        serde_json::to_writer(&mut *out, &self.seconds)?;
        if let Some(error) = &self.error {
            out.extend_from_slice(b",\"error\":");
            serde_json::to_writer(&mut *out, error)?;
        }
        if let Some(worker) = self.worker {
            out.extend_from_slice(b",\"worker\":");
            out.extend_from_slice(digits.format(worker).as_bytes());
        }
        for (name, value) in [
            (&b",\"start\":"[..], self.start),
            (&b",\"end\":"[..], self.end),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(name);
                serde_json::to_writer(&mut *out, &value)?;
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// `s` as a JSON string: copied between quotes when nothing in it needs escaping (app names,
/// hex keys), through serde_json otherwise.
fn json_str(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u64) -> TaskReport {
        TaskReport {
            id,
            app: "noop".into(),
            key: "a960db8c4ec01faa9516b4aab854774e81bb0899a49b8c0cbf4fb82ce29d2eab".into(),
            status: TaskStatusReport::Executed,
            attempts: 1,
            seconds: 0.000_012,
            error: None,
            worker: Some(1),
            start: Some(0.25),
            end: Some(0.250_012),
        }
    }

    fn report(task_list: Vec<TaskReport>) -> RunReport {
        RunReport {
            id: Some("007".into()),
            what: "workflow main of \"odd\" name\n.wasm".into(),
            module: "ab".repeat(32),
            tasks: task_list.len() as u64,
            executed: 1,
            cached: 2,
            failed: 3,
            attempts: 4,
            seconds: 1.5,
            started_unix_ms: Some(1_795_292_365_035),
            workers: Some(2),
            ok: false,
            error: Some("the workflow failed".into()),
            task_list,
        }
    }

    #[test]
    fn the_direct_summary_is_what_serde_writes() {
        let mut tasks = vec![task(0)];
        let mut cached = task(1);
        cached.status = TaskStatusReport::Cached;
        cached.attempts = 0;
        cached.seconds = 0.0;
        cached.worker = None;
        cached.start = None;
        tasks.push(cached);
        let mut failed = task(2);
        failed.status = TaskStatusReport::Failed;
        failed.app = "naïve \"quoted\" \\ app\t".into();
        failed.key = String::new();
        failed.error = Some(TaskError {
            kind: None,
            message: "line one\nline \u{7f} two \u{1}".into(),
        });
        failed.seconds = 1e300;
        tasks.push(failed);
        let mut pending = task(3);
        pending.status = TaskStatusReport::Pending;
        pending.error = Some(TaskError {
            kind: Some("trap".into()),
            message: String::new(),
        });
        pending.end = Some(1e-7);
        pending.start = Some(12_345_678.987_654);
        tasks.push(pending);

        // A list long enough to be written on two threads, with every kind of line in it, at
        // both ends and across the middle.
        let long: Vec<TaskReport> = (0..PARALLEL_FROM as u64 + 3)
            .map(|i| {
                let mut line = tasks[(i % 4) as usize].clone();
                line.id = i;
                line
            })
            .collect();
        for list in [Vec::new(), tasks[..1].to_vec(), tasks, long] {
            let mut report = report(list);
            let expected = crate::runinfo::summary_to_vec(&report).expect("serde");
            let direct = report.summary_json().expect("direct");
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&expected)
            );
            let back: RunReport = serde_json::from_slice(&direct).expect("parses");
            assert_eq!(back.task_list.len(), report.task_list.len());
        }
    }
}
