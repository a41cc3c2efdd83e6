//! The page: header, timeline, per-app table and failures, with its style and script inline.

use std::fmt::Write as _;

use super::escape::{html, script_json};
use super::stats::{AppStats, per_app};
use super::timeline::{self, BINS, DETAIL_LIMIT, FAILURE_LIMIT};
use crate::executor::{RunReport, TaskStatusReport};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("timeline.js");
/// Failures listed in the table below the timeline; more are counted.
const LISTED_FAILURES: usize = 100;

/// Renders `report` as one self-contained HTML page (no network needed to view it).
pub fn render_report(report: &RunReport) -> String {
    let timeline = timeline::build(report);
    let data = serde_json::to_string(&timeline).unwrap_or_else(|_| "null".to_owned());
    let title = match &report.id {
        Some(id) => format!("wf run {id}"),
        None => "wf run".to_owned(),
    };
    let mut page = String::with_capacity(data.len() + 16 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        html(&title),
        html(&report.what),
    );
    header(&mut page, report, &title);
    let _ = write!(
        page,
        "<section>\n<h2>Timeline</h2>\n{}\
         <div id=\"controls\"><button id=\"reset\" type=\"button\" disabled>Reset zoom</button>\
         <span id=\"window\"></span><span class=\"hint\">drag across the timeline to zoom in; \
         hover a mark for its task</span></div>\n\
         <div id=\"legend\"></div>\n<div id=\"timeline\"><svg id=\"chart\" role=\"img\" \
         aria-label=\"timeline of the run's tasks per worker\"></svg><noscript>The timeline \
         is drawn by a script: enable JavaScript to see it.</noscript></div>\n</section>\n",
        scale_note(&timeline),
    );
    apps_table(&mut page, &per_app(report));
    failures(&mut page, report);
    let _ = write!(
        page,
        "<footer>Written by wfrun report from the run's summary.json.</footer>\n\
         <script type=\"application/json\" id=\"timeline-data\">{}</script>\n\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        script_json(&data),
    );
    page
}

fn header(page: &mut String, report: &RunReport, title: &str) {
    let (class, verdict) = if report.ok {
        ("ok", "succeeded")
    } else {
        ("failed", "failed")
    };
    let _ = write!(
        page,
        "<header>\n<h1>{} <span class=\"verdict {class}\">{verdict}</span></h1>\n\
         <p class=\"what\">{}</p>\n<dl>\n",
        html(title),
        html(&report.what),
    );
    let mut item = |name: &str, value: String| {
        let _ = writeln!(page, "<div><dt>{name}</dt><dd>{value}</dd></div>");
    };
    if let Some(ms) = report.started_unix_ms {
        item("started", html(&utc_time(ms)));
    }
    item("seconds", seconds(report.seconds));
    item("tasks", report.tasks.to_string());
    item("executed", report.executed.to_string());
    item("cached", report.cached.to_string());
    item("failed", report.failed.to_string());
    item("attempts", report.attempts.to_string());
    if let Some(workers) = report.workers {
        item("workers", workers.to_string());
    }
    if !report.module.is_empty() {
        item("module", format!("<code>{}</code>", html(&report.module)));
    }
    page.push_str("</dl>\n");
    if let Some(error) = &report.error {
        let _ = writeln!(page, "<pre class=\"error\">{}</pre>", html(error));
    }
    page.push_str("</header>\n");
}

/// What the page says about how the timeline is drawn, when it is not every task as it is.
fn scale_note(timeline: &timeline::Timeline) -> String {
    let mut notes = Vec::new();
    if !timeline.detail {
        notes.push(format!(
            "This run has more than {DETAIL_LIMIT} timed tasks, so each lane is aggregated into \
             {BINS} intervals: a bar's opacity is how busy the worker was, its colour the app \
             that used most of that time. Failed tasks are still drawn one by one."
        ));
    }
    if timeline.failed_omitted > 0 {
        notes.push(format!(
            "Only the first {FAILURE_LIMIT} failed tasks are drawn; {} more are not.",
            timeline.failed_omitted
        ));
    }
    if timeline.untimed > 0 {
        notes.push(format!(
            "{} task(s) have no timing (pending, or the summary predates timings) and are not \
             drawn.",
            timeline.untimed
        ));
    }
    notes
        .iter()
        .map(|n| format!("<p class=\"note\">{}</p>\n", html(n)))
        .collect()
}

fn apps_table(page: &mut String, rows: &[AppStats]) {
    page.push_str(
        "<section>\n<h2>Apps</h2>\n<table class=\"apps\">\n<thead><tr><th>app</th>\
         <th>tasks</th><th>executed</th><th>cached</th><th>failed</th><th>total s</th>\
         <th>median s</th></tr></thead>\n<tbody>\n",
    );
    for row in rows {
        let median = row.median_seconds.map_or_else(|| "–".to_owned(), seconds);
        let _ = writeln!(
            page,
            "<tr><td><span class=\"swatch\" data-app=\"{app}\"></span>{app}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{median}</td></tr>",
            row.tasks,
            row.executed,
            row.cached,
            if row.failed > 0 { "bad" } else { "" },
            row.failed,
            seconds(row.total_seconds),
            app = html(&row.app),
        );
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}

fn failures(page: &mut String, report: &RunReport) {
    let failed: Vec<_> = report
        .task_list
        .iter()
        .filter(|t| t.status == TaskStatusReport::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    page.push_str(
        "<section>\n<h2>Failures</h2>\n<table class=\"failures\">\n<thead><tr><th>task</th>\
         <th>app</th><th>kind</th><th>error</th></tr></thead>\n<tbody>\n",
    );
    for task in failed.iter().take(LISTED_FAILURES) {
        let (kind, message) = task
            .error
            .as_ref()
            .map_or((None, ""), |e| (e.kind.as_deref(), e.message.as_str()));
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            task.id,
            html(&task.app),
            html(kind.unwrap_or("")),
            html(message),
        );
    }
    page.push_str("</tbody>\n</table>\n");
    if failed.len() > LISTED_FAILURES {
        let _ = writeln!(
            page,
            "<p class=\"note\">{} more failed tasks are not listed (see <code>wfrun show</code>).\
             </p>",
            failed.len() - LISTED_FAILURES
        );
    }
    page.push_str("</section>\n");
}

/// Seconds to three significant digits below one second (tasks are often that short), to the
/// millisecond above.
fn seconds(s: f64) -> String {
    if s == 0.0 || s >= 1.0 {
        format!("{s:.3}")
    } else {
        let digits = (2 - s.abs().log10().floor() as i32).clamp(3, 9) as usize;
        format!("{s:.digits$}")
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{TaskError, TaskReport};

    #[test]
    fn seconds_keep_three_significant_digits() {
        assert_eq!(seconds(0.0), "0.000");
        assert_eq!(seconds(12.34567), "12.346");
        assert_eq!(seconds(0.5), "0.500");
        assert_eq!(seconds(0.000_123_45), "0.000123");
        assert_eq!(seconds(0.012_345), "0.0123");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_time(1_795_279_989_123), "2026-11-21 16:53:09 UTC");
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let hostile = "</script><b>bold</b><script>alert(1)</script>";
        let report = RunReport {
            id: Some("007".into()),
            what: format!("workflow {hostile}"),
            module: "ab".into(),
            tasks: 1,
            executed: 0,
            cached: 0,
            failed: 1,
            attempts: 1,
            seconds: 0.5,
            started_unix_ms: Some(0),
            workers: Some(1),
            ok: false,
            error: Some(hostile.into()),
            task_list: vec![TaskReport {
                id: 0,
                app: hostile.into(),
                key: String::new(),
                status: TaskStatusReport::Failed,
                attempts: 1,
                seconds: 0.25,
                error: Some(TaskError {
                    kind: Some(hostile.into()),
                    message: hostile.into(),
                }),
                worker: Some(0),
                start: Some(0.0),
                end: Some(0.25),
            }],
        };
        let page = render_report(&report);
        assert!(
            !page.contains("<b>"),
            "markup from the run reaches the page"
        );
        // Exactly the page's own two scripts open and close.
        assert_eq!(page.matches("<script").count(), 2);
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(page.contains("&lt;/script&gt;&lt;b&gt;bold"));
        assert!(page.contains("\\u003c/script\\u003e\\u003cb\\u003ebold"));
    }
}
