//! Scenario tests: parse configs, feed events, assert on the decisions.

use std::time::Duration;

use super::*;
use crate::scheduler::TaskId;

fn policy(mode: Mode) -> CheckpointPolicy {
    avoiding(mode, &[])
}

fn avoiding(mode: Mode, apps: &[&str]) -> CheckpointPolicy {
    let config = PolicyConfig::new(mode).expect("a valid mode");
    CheckpointPolicy::new(config.avoiding(apps.iter().copied()), Duration::ZERO)
}

fn ids(ids: &[u64]) -> Vec<TaskId> {
    ids.iter().map(|&i| TaskId(i)).collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn writes(decision: Decision) -> Vec<TaskId> {
    assert!(decision.drop.is_empty(), "{decision:?}");
    decision.write
}

/// Submits tasks `0..n`, all of app `a`.
fn submit_all(p: &mut CheckpointPolicy, n: u64) {
    for i in 0..n {
        p.on_submit(TaskId(i), "a");
    }
}

#[test]
fn parses_every_mode_and_its_setting() {
    let mode = |m, period, n| PolicyConfig::parse(m, period, n).map(|c| format!("{:?}", c.mode()));
    assert_eq!(mode("task_exit", None, None).as_deref(), Ok("TaskExit"));
    assert_eq!(mode("dfk-exit", None, None).as_deref(), Ok("DfkExit"));
    assert_eq!(mode(" manual ", None, None).as_deref(), Ok("Manual"));
    assert_eq!(
        mode("periodic", Some("30s"), None).as_deref(),
        Ok("Periodic(30s)")
    );
    assert_eq!(
        mode("periodic", Some("5m"), None).as_deref(),
        Ok("Periodic(300s)")
    );
    assert_eq!(
        mode("periodic", Some("1h"), None).as_deref(),
        Ok("Periodic(3600s)")
    );
    assert_eq!(
        mode("periodic", Some("01:00:00"), None).as_deref(),
        Ok("Periodic(3600s)")
    );
    assert_eq!(
        mode("every_n_finished", None, Some(3)).as_deref(),
        Ok("EveryNFinished(3)")
    );
    assert_eq!(
        mode("instantiated_group", None, Some(2)).as_deref(),
        Ok("InstantiatedGroup(2)")
    );
    for name in MODE_NAMES {
        let period = (name == "periodic").then_some("1s");
        let n = matches!(name, "every_n_finished" | "instantiated_group").then_some(1);
        assert_eq!(
            PolicyConfig::parse(name, period, n).map(|c| c.mode().name()),
            Ok(name)
        );
    }
}

#[test]
fn bad_policies_are_refused_naming_the_value() {
    let err = |m, period, n| {
        let e = PolicyConfig::parse(m, period, n).expect_err("refused");
        (e.clone(), e.to_string())
    };
    let (e, msg) = err("on_exit", None, None);
    assert_eq!(
        e,
        PolicyError::UnknownMode {
            mode: "on_exit".into()
        }
    );
    assert!(
        msg.contains("`on_exit`") && msg.contains("or `instantiated_group`"),
        "{msg}"
    );
    assert_eq!(err("periodic", None, None).0, PolicyError::MissingPeriod);
    let (e, msg) = err("periodic", Some("soon"), None);
    assert!(
        matches!(e, PolicyError::BadPeriod(_)) && msg.contains("`soon`"),
        "{msg}"
    );
    assert!(err("periodic", Some("0s"), None).1.contains("zero"));
    assert!(err("periodic", Some("00:00:00"), None).1.contains("zero"));
    let (e, msg) = err("every_n_finished", None, Some(0));
    assert_eq!(
        e,
        PolicyError::ZeroCount {
            mode: "every_n_finished"
        }
    );
    assert!(msg.contains("got 0"), "{msg}");
    assert_eq!(
        err("instantiated_group", None, Some(0)).0,
        PolicyError::ZeroCount {
            mode: "instantiated_group"
        }
    );
    assert_eq!(
        err("instantiated_group", None, None).0,
        PolicyError::MissingCount {
            mode: "instantiated_group"
        }
    );
    let (e, msg) = err("task_exit", Some("30s"), None);
    assert_eq!(
        e,
        PolicyError::UnusedPeriod {
            mode: "task_exit",
            period: "30s".into()
        }
    );
    assert!(msg.contains("`30s`"), "{msg}");
    assert!(err("manual", None, Some(4)).1.contains("got 4"));
    assert!(PolicyConfig::new(Mode::Periodic(Duration::ZERO)).is_err());
    assert!(PolicyConfig::new(Mode::EveryNFinished(0)).is_err());
}

#[test]
fn a_raw_policy_carries_its_avoid_list() {
    let raw = RawPolicy {
        mode: "manual".into(),
        avoid: vec!["plot".into(), "log".into()],
        ..RawPolicy::default()
    };
    let config = PolicyConfig::try_from(raw).expect("valid");
    let config = config.avoiding(["plot", "tar"]);
    assert_eq!(
        config.avoid().iter().collect::<Vec<_>>(),
        ["log", "plot", "tar"]
    );
    let p = CheckpointPolicy::new(config, Duration::ZERO);
    assert!(p.is_avoided("tar") && !p.is_avoided("sim"));
    assert_eq!(p.mode_name(), "manual");
}

#[test]
fn task_exit_writes_each_task_as_it_finishes_and_asks_for_durability() {
    let mut p = policy(Mode::TaskExit);
    assert!(p.durable_before_resolve());
    assert_eq!(p.next_deadline(), None);
    submit_all(&mut p, 3);
    assert_eq!(writes(p.on_finished(TaskId(1), "a", secs(1))), ids(&[1]));
    assert_eq!(writes(p.on_finished(TaskId(0), "a", secs(2))), ids(&[0]));
    assert_eq!(p.pending(), 0);
    assert!(p.on_reused(TaskId(2)).is_empty());
    assert!(p.on_exit().is_empty());
    for mode in [
        Mode::DfkExit,
        Mode::Manual,
        Mode::Periodic(secs(1)),
        Mode::EveryNFinished(1),
    ] {
        assert!(!policy(mode).durable_before_resolve());
    }
}

#[test]
fn periodic_writes_everything_pending_at_each_deadline() {
    let mut p = CheckpointPolicy::new(
        PolicyConfig::new(Mode::Periodic(secs(10))).expect("valid"),
        secs(100),
    );
    assert_eq!(p.next_deadline(), Some(secs(110)));
    assert!(p.on_finished(TaskId(2), "a", secs(101)).is_empty());
    assert!(p.on_finished(TaskId(0), "a", secs(105)).is_empty());
    assert!(p.on_tick(secs(109)).is_empty());
    assert_eq!(p.pending(), 2);
    assert_eq!(writes(p.on_tick(secs(110))), ids(&[2, 0]));
    assert_eq!(p.next_deadline(), Some(secs(120)));
    // Nothing pending at a deadline: nothing to write, but the period goes on.
    assert!(p.on_tick(secs(121)).is_empty());
    assert_eq!(p.next_deadline(), Some(secs(130)));
    // A finish after a deadline that was not ticked yet writes at once; a late tick keeps the grid.
    assert!(p.on_finished(TaskId(1), "a", secs(125)).is_empty());
    assert_eq!(
        writes(p.on_finished(TaskId(3), "a", secs(157))),
        ids(&[1, 3])
    );
    assert_eq!(p.next_deadline(), Some(secs(160)));
    assert!(p.on_finished(TaskId(4), "a", secs(158)).is_empty());
    assert_eq!(writes(p.on_exit()), ids(&[4]));
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn dfk_exit_writes_nothing_until_the_end() {
    let mut p = policy(Mode::DfkExit);
    submit_all(&mut p, 4);
    for i in [3, 1, 0] {
        assert!(p.on_finished(TaskId(i), "a", secs(i)).is_empty());
        assert!(p.on_tick(secs(1000)).is_empty());
    }
    assert!(p.on_unrecorded(TaskId(2)).is_empty());
    assert_eq!(p.next_deadline(), None);
    assert_eq!(writes(p.on_exit()), ids(&[3, 1, 0]));
    assert!(p.on_exit().is_empty());
}

#[test]
fn manual_writes_what_is_pending_when_asked_and_the_rest_at_the_end() {
    let mut p = policy(Mode::Manual);
    assert!(p.on_manual().is_empty());
    assert!(p.on_finished(TaskId(0), "a", secs(1)).is_empty());
    assert!(p.on_finished(TaskId(1), "a", secs(2)).is_empty());
    assert!(p.on_tick(secs(99)).is_empty());
    assert_eq!(writes(p.on_manual()), ids(&[0, 1]));
    assert!(p.on_manual().is_empty());
    assert!(p.on_finished(TaskId(2), "a", secs(3)).is_empty());
    assert_eq!(writes(p.on_exit()), ids(&[2]));
}

#[test]
fn every_n_finished_writes_each_batch_of_n() {
    let mut p = avoiding(Mode::EveryNFinished(3), &["plot"]);
    assert!(p.on_finished(TaskId(0), "a", secs(0)).is_empty());
    assert!(p.on_finished(TaskId(1), "a", secs(0)).is_empty());
    // An avoided app's task is dropped and does not count.
    assert_eq!(p.on_finished(TaskId(2), "plot", secs(0)).drop, ids(&[2]));
    // Nor does a reused one.
    assert!(p.on_reused(TaskId(3)).is_empty());
    assert_eq!(
        writes(p.on_finished(TaskId(5), "a", secs(0))),
        ids(&[0, 1, 5])
    );
    assert!(p.on_finished(TaskId(4), "a", secs(0)).is_empty());
    // A manual checkpoint writes what is pending; the count starts again.
    assert_eq!(writes(p.on_manual()), ids(&[4]));
    for i in 6..8 {
        assert!(p.on_finished(TaskId(i), "a", secs(0)).is_empty());
    }
    assert_eq!(
        writes(p.on_finished(TaskId(8), "a", secs(0))),
        ids(&[6, 7, 8])
    );
    assert!(p.on_finished(TaskId(9), "a", secs(0)).is_empty());
    assert_eq!(writes(p.on_exit()), ids(&[9]));
}

#[test]
fn instantiated_group_writes_a_group_once_all_its_tasks_are_done() {
    let mut p = policy(Mode::InstantiatedGroup(2));
    submit_all(&mut p, 5); // groups {0, 1}, {2, 3}, {4} (still open)
    assert!(p.on_finished(TaskId(1), "a", secs(0)).is_empty());
    assert!(p.on_finished(TaskId(2), "a", secs(0)).is_empty());
    assert_eq!(writes(p.on_finished(TaskId(0), "a", secs(0))), ids(&[1, 0]));
    assert_eq!(writes(p.on_finished(TaskId(3), "a", secs(0))), ids(&[2, 3]));
    // The last group is not closed until a sixth task joins it, or the run ends.
    assert!(p.on_finished(TaskId(4), "a", secs(0)).is_empty());
    assert_eq!(writes(p.on_exit()), ids(&[4]));
}

#[test]
fn instantiated_group_counts_reused_and_unrecorded_tasks_as_done() {
    let mut p = policy(Mode::InstantiatedGroup(3));
    submit_all(&mut p, 6);
    assert!(p.on_finished(TaskId(0), "a", secs(0)).is_empty());
    assert!(p.on_reused(TaskId(1)).is_empty());
    assert_eq!(writes(p.on_unrecorded(TaskId(2))), ids(&[0]));
    // A task that never ends holds its group back until the end.
    assert!(p.on_finished(TaskId(3), "a", secs(0)).is_empty());
    assert!(p.on_reused(TaskId(5)).is_empty());
    assert_eq!(p.pending(), 1);
    assert_eq!(writes(p.on_exit()), ids(&[3]));
}

#[test]
fn a_manual_checkpoint_in_a_grouping_mode_writes_unfinished_groups_too() {
    let mut p = policy(Mode::InstantiatedGroup(3));
    submit_all(&mut p, 3);
    assert!(p.on_finished(TaskId(2), "a", secs(0)).is_empty());
    assert_eq!(writes(p.on_manual()), ids(&[2]));
    assert!(p.on_finished(TaskId(0), "a", secs(0)).is_empty());
    // The group completes: only what was not written yet.
    assert_eq!(writes(p.on_finished(TaskId(1), "a", secs(0))), ids(&[0, 1]));
    assert!(p.on_exit().is_empty());
}

#[test]
fn avoided_tasks_are_dropped_and_count_as_done_for_their_group() {
    let mut p = avoiding(Mode::InstantiatedGroup(2), &["plot"]);
    p.on_submit(TaskId(0), "sim");
    p.on_submit(TaskId(1), "plot");
    assert!(p.on_finished(TaskId(0), "sim", secs(0)).is_empty());
    let d = p.on_finished(TaskId(1), "plot", secs(0));
    assert_eq!((d.write, d.drop), (ids(&[0]), ids(&[1])));
    for mode in [Mode::TaskExit, Mode::DfkExit] {
        let mut p = avoiding(mode, &["plot"]);
        let d = p.on_finished(TaskId(7), "plot", secs(0));
        assert_eq!((d.write, d.drop), (vec![], ids(&[7])));
        assert!(p.on_exit().is_empty());
    }
}

/// Groups tasks by app; a group closes when it has `size` tasks.
#[derive(Debug)]
pub(super) struct ByApp {
    pub(super) size: u64,
}

impl GroupPolicy for ByApp {
    fn group_of(&mut self, _task: TaskId, app: &str) -> String {
        app.to_owned()
    }

    fn is_closed(&mut self, _group: &str, members: u64) -> bool {
        members >= self.size
    }
}

#[test]
fn a_custom_policy_groups_and_closes_as_it_likes() {
    let mut p = policy(Mode::Custom(Box::new(ByApp { size: 2 })));
    assert_eq!(p.mode_name(), "custom");
    for (i, app) in ["sim", "plot", "sim", "sim", "plot", "sim"]
        .iter()
        .enumerate()
    {
        p.on_submit(TaskId(i as u64), app); // sim {0, 2}, {3, 5}; plot {1, 4}
    }
    assert!(p.on_finished(TaskId(0), "sim", secs(0)).is_empty());
    assert!(p.on_finished(TaskId(3), "sim", secs(0)).is_empty());
    assert!(p.on_finished(TaskId(1), "plot", secs(0)).is_empty());
    assert_eq!(
        writes(p.on_finished(TaskId(2), "sim", secs(0))),
        ids(&[0, 2])
    );
    assert_eq!(
        writes(p.on_finished(TaskId(5), "sim", secs(0))),
        ids(&[3, 5])
    );
    assert_eq!(
        writes(p.on_finished(TaskId(4), "plot", secs(0))),
        ids(&[1, 4])
    );
    // A group the policy never closes is closed by the end of the run.
    p.on_submit(TaskId(6), "plot");
    assert!(p.on_finished(TaskId(6), "plot", secs(0)).is_empty());
    assert_eq!(writes(p.on_exit()), ids(&[6]));
}

#[test]
fn repeated_and_unsubmitted_reports_are_handled() {
    let mut p = policy(Mode::InstantiatedGroup(2));
    submit_all(&mut p, 2);
    assert!(p.on_finished(TaskId(0), "a", secs(0)).is_empty());
    assert!(p.on_finished(TaskId(0), "a", secs(0)).is_empty());
    assert!(p.on_reused(TaskId(0)).is_empty());
    p.on_submit(TaskId(0), "a"); // resubmitting an ended task changes nothing
    assert_eq!(p.pending(), 1);
    // A task reported without having been submitted is in no group: written on its own.
    assert_eq!(writes(p.on_finished(TaskId(9), "a", secs(0))), ids(&[9]));
    assert_eq!(writes(p.on_finished(TaskId(1), "a", secs(0))), ids(&[0, 1]));
    assert!(p.on_exit().is_empty());
    // After the end, a late finish is written at once.
    let mut p = policy(Mode::Manual);
    assert!(p.on_exit().is_empty());
    assert_eq!(writes(p.on_finished(TaskId(3), "a", secs(0))), ids(&[3]));
}

#[test]
fn the_ended_set_answers_like_a_set_for_dense_and_stray_ids() {
    let mut set = machine::TaskSet::default();
    for id in [0, 1, 63, 64, 65, 1000] {
        assert!(set.insert(TaskId(id)), "{id} is new");
        assert!(!set.insert(TaskId(id)), "{id} is there already");
    }
    for id in [0, 1, 63, 64, 65, 1000] {
        assert!(set.contains(TaskId(id)));
    }
    for id in [2, 62, 66, 999, 1001, 1 << 20] {
        assert!(!set.contains(TaskId(id)));
    }
    // An id far beyond the others does not grow the bitmap to reach it.
    for id in [u64::MAX, 1 << 40] {
        assert!(set.insert(TaskId(id)));
        assert!(!set.insert(TaskId(id)));
        assert!(set.contains(TaskId(id)));
    }
    assert!(set.bitmap_words() < 64, "{} words", set.bitmap_words());
}

#[test]
fn task_exit_writes_each_record_at_once_and_a_repeated_report_not_again() {
    let mut p = avoiding(Mode::TaskExit, &["plot"]);
    assert_eq!(
        p.on_finished(TaskId(0), "sim", Duration::ZERO).write,
        ids(&[0])
    );
    assert!(p.on_finished(TaskId(0), "sim", Duration::ZERO).is_empty());
    let avoided = p.on_finished(TaskId(1), "plot", Duration::ZERO);
    assert_eq!((avoided.write, avoided.drop), (ids(&[]), ids(&[1])));
    assert_eq!(
        p.on_finished(TaskId(2), "sim", Duration::ZERO).write,
        ids(&[2])
    );
    assert_eq!(p.pending(), 0);
    assert!(p.on_exit().is_empty());
}
