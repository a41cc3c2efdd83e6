//! The per-app table: how many tasks of each app ran, were reused or failed, and how long the
//! executed ones took.

use std::collections::BTreeMap;

use crate::executor::{RunReport, TaskStatusReport};

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppStats {
    pub app: String,
    pub tasks: u64,
    pub executed: u64,
    pub cached: u64,
    pub failed: u64,
    /// Seconds spent executing, over every attempt of every task.
    pub total_seconds: f64,
    /// The median of the tasks' execution seconds, over tasks that ran; `None` if none did.
    pub median_seconds: Option<f64>,
}

/// One row per app, by name.
pub(crate) fn per_app(report: &RunReport) -> Vec<AppStats> {
    let mut rows: BTreeMap<&str, (AppStats, Vec<f64>)> = BTreeMap::new();
    for task in &report.task_list {
        let (row, ran) = rows.entry(task.app.as_str()).or_insert_with(|| {
            let row = AppStats {
                app: task.app.clone(),
                tasks: 0,
                executed: 0,
                cached: 0,
                failed: 0,
                total_seconds: 0.0,
                median_seconds: None,
            };
            (row, Vec::new())
        });
        row.tasks += 1;
        match task.status {
            TaskStatusReport::Executed => row.executed += 1,
            TaskStatusReport::Cached => row.cached += 1,
            TaskStatusReport::Failed => row.failed += 1,
            TaskStatusReport::Pending => {}
        }
        row.total_seconds += task.seconds;
        if task.attempts > 0 {
            ran.push(task.seconds);
        }
    }
    rows.into_values()
        .map(|(mut row, mut ran)| {
            ran.sort_unstable_by(f64::total_cmp);
            row.median_seconds = median(&ran);
            row
        })
        .collect()
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::TaskReport;

    fn task(app: &str, status: TaskStatusReport, attempts: u32, seconds: f64) -> TaskReport {
        TaskReport {
            id: 0,
            app: app.into(),
            key: String::new(),
            status,
            attempts,
            seconds,
            error: None,
            worker: None,
            start: None,
            end: None,
        }
    }

    #[test]
    fn counts_and_medians_per_app() {
        use TaskStatusReport::*;
        let report = RunReport {
            id: None,
            what: String::new(),
            module: String::new(),
            tasks: 6,
            executed: 3,
            cached: 2,
            failed: 1,
            attempts: 5,
            seconds: 1.0,
            started_unix_ms: None,
            workers: None,
            ok: false,
            error: None,
            task_list: vec![
                task("b", Executed, 1, 3.0),
                task("a", Executed, 1, 1.0),
                task("a", Executed, 1, 2.0),
                task("a", Cached, 0, 0.0),
                task("a", Failed, 2, 4.0),
                task("b", Cached, 0, 0.0),
            ],
        };
        let rows = per_app(&report);
        assert_eq!(rows.len(), 2);
        let a = &rows[0];
        assert_eq!(
            (a.app.as_str(), a.tasks, a.executed, a.cached, a.failed),
            ("a", 4, 2, 1, 1)
        );
        assert_eq!(a.total_seconds, 7.0);
        assert_eq!(a.median_seconds, Some(2.0));
        let b = &rows[1];
        assert_eq!((b.tasks, b.executed, b.cached, b.failed), (2, 1, 1, 0));
        assert_eq!(b.median_seconds, Some(3.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 8.0]), Some(3.0));
    }
}
