//! The timeline's data, embedded in the page as JSON for its script to draw: one lane per worker
//! with a bar per executed task, a lane of ticks for tasks that resolved without running. Up to
//! [`DETAIL_LIMIT`] tasks every task is its own mark; beyond, each lane is cut into [`BINS`]
//! intervals drawn by how busy the worker was and with which app, and the page says so.
//! Failed tasks are always individual marks (up to [`FAILURE_LIMIT`]).

use std::collections::HashMap;

use serde::Serialize;

use crate::executor::{RunReport, TaskReport, TaskStatusReport};

/// Above this many timed tasks, lanes are aggregated into bins.
pub(crate) const DETAIL_LIMIT: usize = 20_000;
/// Intervals per lane of an aggregated timeline.
pub(crate) const BINS: usize = 1_000;
/// Failed tasks drawn one by one; more are counted.
pub(crate) const FAILURE_LIMIT: usize = 2_000;

/// What the page's script draws.
#[derive(Debug, Serialize)]
pub(crate) struct Timeline {
    /// Seconds the time axis covers, from the run's start.
    pub span: f64,
    /// Worker lanes.
    pub lanes: u32,
    /// App names; marks name their app by index.
    pub apps: Vec<String>,
    /// Whether every task is its own mark (else `bins`).
    pub detail: bool,
    /// Executed tasks (detail): `[lane, start, end, app, task id]`.
    pub runs: Vec<(u32, f64, f64, u32, u64)>,
    /// Tasks that resolved without running (detail): `[time, app, task id]`.
    pub cached: Vec<(f64, u32, u64)>,
    /// The aggregated timeline, when not in detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bins: Option<Bins>,
    /// Failed tasks, in both modes.
    pub failed: Vec<FailedMark>,
    /// Failed tasks beyond [`FAILURE_LIMIT`], not drawn.
    pub failed_omitted: u64,
    /// Tasks without timing (a summary from before timings were recorded, or pending tasks).
    pub untimed: u64,
}

/// Lanes cut into equal intervals.
#[derive(Debug, Serialize)]
pub(crate) struct Bins {
    /// Seconds per interval.
    pub width: f64,
    /// Per lane, the intervals in which the worker was busy: `[interval, busy fraction in
    /// thousandths, the app that used most of it]`.
    pub busy: Vec<Vec<(u32, u16, u32)>>,
    /// Tasks resolved without running, counted per interval: `[interval, count]`.
    pub cached: Vec<(u32, u64)>,
}

/// A failed task.
#[derive(Debug, Serialize)]
pub(crate) struct FailedMark {
    /// The task's id.
    pub id: u64,
    /// Its app, by index.
    pub app: u32,
    /// Its worker lane, when it ran.
    pub lane: Option<u32>,
    /// When it started, when it ran.
    pub start: Option<f64>,
    /// When it ended.
    pub end: f64,
    /// Why it failed.
    pub error: String,
}

/// Builds the timeline of `report`.
pub(crate) fn build(report: &RunReport) -> Timeline {
    let mut apps: Vec<String> = Vec::new();
    let mut app_index: HashMap<&str, u32> = HashMap::new();
    let mut lanes = report.workers.unwrap_or(0);
    let mut span = report.seconds.max(0.0);
    let mut timed = 0usize;
    let mut untimed = 0u64;
    for task in &report.task_list {
        if !app_index.contains_key(task.app.as_str()) {
            app_index.insert(&task.app, apps.len() as u32);
            apps.push(task.app.clone());
        }
        match task.end {
            Some(end) if end.is_finite() => {
                timed += 1;
                span = span.max(end);
            }
            _ => untimed += 1,
        }
        if let Some(worker) = task.worker {
            lanes = lanes.max(worker.saturating_add(1));
        }
    }
    let app_of = |task: &TaskReport| app_index.get(task.app.as_str()).copied().unwrap_or(0);
    let detail = timed <= DETAIL_LIMIT;
    let mut timeline = Timeline {
        span,
        lanes,
        apps: Vec::new(),
        detail,
        runs: Vec::new(),
        cached: Vec::new(),
        bins: None,
        failed: Vec::new(),
        failed_omitted: 0,
        untimed,
    };
    let mut bins = (!detail).then(|| Aggregate::new(lanes, span));
    for task in &report.task_list {
        let Some(end) = task.end.filter(|e| e.is_finite()) else {
            continue;
        };
        let ran = task.worker.zip(task.start.filter(|s| s.is_finite()));
        if task.status == TaskStatusReport::Failed {
            if timeline.failed.len() < FAILURE_LIMIT {
                timeline.failed.push(FailedMark {
                    id: task.id,
                    app: app_of(task),
                    lane: ran.map(|(lane, _)| lane),
                    start: ran.map(|(_, start)| start),
                    end,
                    error: task
                        .error
                        .as_ref()
                        .map(|e| match &e.kind {
                            Some(kind) => format!("{kind}: {}", e.message),
                            None => e.message.clone(),
                        })
                        .unwrap_or_default(),
                });
            } else {
                timeline.failed_omitted += 1;
            }
            continue;
        }
        match (ran, bins.as_mut()) {
            (Some((lane, start)), None) => {
                timeline
                    .runs
                    .push((lane, start, end, app_of(task), task.id));
            }
            (None, None) => timeline.cached.push((end, app_of(task), task.id)),
            (Some((lane, start)), Some(bins)) => bins.add_run(lane, start, end, app_of(task)),
            (None, Some(bins)) => bins.add_cached(end),
        }
    }
    timeline.bins = bins.map(Aggregate::finish);
    timeline.apps = apps;
    timeline
}

/// Busy time per lane, interval and app, while it is summed.
struct Aggregate {
    width: f64,
    /// Per lane and interval: seconds busy per app (few apps per interval: a short list).
    busy: Vec<Vec<Vec<(u32, f64)>>>,
    cached: Vec<u64>,
}

impl Aggregate {
    fn new(lanes: u32, span: f64) -> Aggregate {
        let width = if span > 0.0 { span / BINS as f64 } else { 1.0 };
        Aggregate {
            width,
            busy: vec![vec![Vec::new(); BINS]; lanes as usize],
            cached: vec![0; BINS],
        }
    }

    fn bin(&self, t: f64) -> usize {
        ((t / self.width).floor().max(0.0) as usize).min(BINS - 1)
    }

    fn add_run(&mut self, lane: u32, start: f64, end: f64, app: u32) {
        let (first, last) = (self.bin(start), self.bin(end.max(start)));
        let width = self.width;
        let Some(lane) = self.busy.get_mut(lane as usize) else {
            return;
        };
        // Tasks on one lane do not overlap, so the intervals a lane's tasks cover add up to
        // at most its tasks plus BINS: the loop stays linear in the run's size.
        for (b, slot) in lane.iter_mut().enumerate().take(last + 1).skip(first) {
            let lo = start.max(b as f64 * width);
            let hi = end.min((b + 1) as f64 * width);
            let seconds = (hi - lo).max(0.0);
            match slot.iter_mut().find(|(a, _)| *a == app) {
                Some((_, s)) => *s += seconds,
                None => slot.push((app, seconds)),
            }
        }
    }

    fn add_cached(&mut self, at: f64) {
        let b = self.bin(at);
        self.cached[b] += 1;
    }

    fn finish(self) -> Bins {
        let width = self.width;
        let busy = self
            .busy
            .into_iter()
            .map(|lane| {
                lane.into_iter()
                    .enumerate()
                    .filter_map(|(b, slot)| {
                        let total: f64 = slot.iter().map(|(_, s)| s).sum();
                        let (app, _) = slot.into_iter().max_by(|x, y| x.1.total_cmp(&y.1))?;
                        let thousandths = (total / width * 1000.0).round().clamp(1.0, 1000.0);
                        Some((b as u32, thousandths as u16, app))
                    })
                    .collect()
            })
            .collect();
        let cached = self
            .cached
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(b, n)| (b as u32, n))
            .collect();
        Bins {
            width,
            busy,
            cached,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::TaskError;

    fn task(
        id: u64,
        app: &str,
        status: TaskStatusReport,
        at: Option<(u32, f64)>,
        end: f64,
    ) -> TaskReport {
        TaskReport {
            id,
            app: app.into(),
            key: String::new(),
            status,
            attempts: u32::from(at.is_some()),
            seconds: at.map_or(0.0, |(_, s)| end - s),
            error: (status == TaskStatusReport::Failed).then(|| TaskError {
                kind: Some("app error".into()),
                message: format!("task {id} failed"),
            }),
            worker: at.map(|(w, _)| w),
            start: at.map(|(_, s)| s),
            end: Some(end),
        }
    }

    fn report(task_list: Vec<TaskReport>) -> RunReport {
        RunReport {
            id: Some("000".into()),
            what: "workflow main".into(),
            module: String::new(),
            tasks: task_list.len() as u64,
            executed: 0,
            cached: 0,
            failed: 0,
            attempts: 0,
            seconds: 1.0,
            started_unix_ms: None,
            workers: Some(2),
            ok: true,
            error: None,
            task_list,
        }
    }

    #[test]
    fn small_runs_keep_every_task() {
        use TaskStatusReport::*;
        let timeline = build(&report(vec![
            task(0, "a", Executed, Some((0, 0.0)), 0.5),
            task(1, "b", Executed, Some((3, 0.1)), 0.2),
            task(2, "a", Cached, None, 0.05),
            task(3, "b", Failed, Some((1, 0.2)), 1.5),
            task(4, "a", Failed, None, 1.5),
        ]));
        assert!(timeline.detail);
        assert_eq!(timeline.apps, ["a", "b"]);
        assert_eq!(
            timeline.lanes, 4,
            "a worker beyond the reported count adds a lane"
        );
        assert_eq!(timeline.span, 1.5, "the axis covers the last end");
        assert_eq!(timeline.runs, [(0, 0.0, 0.5, 0, 0), (3, 0.1, 0.2, 1, 1)]);
        assert_eq!(timeline.cached, [(0.05, 0, 2)]);
        assert_eq!(timeline.failed.len(), 2);
        assert_eq!(timeline.failed[0].lane, Some(1));
        assert_eq!(timeline.failed[0].error, "app error: task 3 failed");
        assert_eq!(timeline.failed[1].lane, None);
        assert!(timeline.bins.is_none());
    }

    #[test]
    fn large_runs_are_binned_and_keep_failures() {
        use TaskStatusReport::*;
        let n = DETAIL_LIMIT as u64 + 10;
        let step = 1.0 / n as f64;
        let mut tasks: Vec<TaskReport> = (0..n)
            .map(|i| {
                let t = i as f64 * step;
                match i % 4 {
                    0 => task(i, "a", Cached, None, t),
                    _ => task(i, "b", Executed, Some(((i % 2) as u32, t)), t + step),
                }
            })
            .collect();
        tasks.push(task(n, "c", Failed, Some((0, 0.5)), 0.6));
        let timeline = build(&report(tasks));
        assert!(!timeline.detail);
        assert!(timeline.runs.is_empty() && timeline.cached.is_empty());
        let bins = timeline.bins.expect("binned");
        assert_eq!(bins.busy.len(), 2);
        let cached: u64 = bins.cached.iter().map(|(_, n)| n).sum();
        assert_eq!(cached, n.div_ceil(4));
        // Lane 1 runs every odd task: busy about half of each interval, with app `b`.
        let lane1 = &bins.busy[1];
        assert!(lane1.len() >= BINS - 2, "{}", lane1.len());
        assert!(
            lane1
                .iter()
                .all(|&(_, busy, app)| app == 1 && (400..=600).contains(&busy))
        );
        assert_eq!(timeline.failed.len(), 1);
        assert_eq!(timeline.failed[0].id, n);
    }
}
