//! Random runs in every mode: submissions, finishes, reuses, unrecorded ends, ticks and manual
//! checkpoints in random order, checked against what each mode promises.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;

use super::tests::ByApp;
use super::*;
use crate::scheduler::TaskId;

const APPS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Submit(usize),
    Finish(Index),
    Reuse(Index),
    Unrecorded(Index),
    /// Report an ended task as finished again.
    Repeat(Index),
    /// Time passes, by milliseconds, with or without a tick.
    Wait(u64, bool),
    Manual,
}

#[derive(Debug, Clone)]
struct Case {
    mode: u8,
    n: u64,
    period_ms: u64,
    avoid: Vec<bool>,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    let op = prop_oneof![
        4 => (0..APPS.len()).prop_map(Op::Submit),
        4 => any::<Index>().prop_map(Op::Finish),
        1 => any::<Index>().prop_map(Op::Reuse),
        1 => any::<Index>().prop_map(Op::Unrecorded),
        1 => any::<Index>().prop_map(Op::Repeat),
        2 => (0u64..30, any::<bool>()).prop_map(|(ms, tick)| Op::Wait(ms, tick)),
        1 => Just(Op::Manual),
    ];
    (
        0u8..7,
        1u64..5,
        1u64..50,
        proptest::collection::vec(proptest::bool::weighted(0.25), APPS.len()),
        proptest::collection::vec(op, 0..80),
    )
        .prop_map(|(mode, n, period_ms, avoid, ops)| Case {
            mode,
            n,
            period_ms,
            avoid,
            ops,
        })
}

fn mode(case: &Case) -> Mode {
    match case.mode {
        0 => Mode::TaskExit,
        1 => Mode::Periodic(Duration::from_millis(case.period_ms)),
        2 => Mode::DfkExit,
        3 => Mode::Manual,
        4 => Mode::EveryNFinished(case.n),
        5 => Mode::InstantiatedGroup(case.n),
        _ => Mode::Custom(Box::new(ByApp { size: case.n })),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Finish(TaskId),
    Ended,
    Tick,
    Manual,
    Exit,
}

/// The run as the test sees it.
#[derive(Default)]
struct Model {
    /// Per task (ids are submission indices): its app, and its group as `(app or all, rank)`.
    tasks: Vec<(usize, (usize, u64))>,
    group_sizes: HashMap<(usize, u64), u64>,
    /// Submitted tasks that have not ended.
    open: Vec<TaskId>,
    ended: Vec<TaskId>,
    /// Finished tasks, with their place in the finish order.
    finished: HashMap<TaskId, usize>,
    written: HashSet<TaskId>,
    dropped: HashSet<TaskId>,
}

impl Model {
    fn avoided(&self, case: &Case, task: TaskId) -> bool {
        case.avoid[self.tasks[task.0 as usize].0]
    }

    /// Whether the group of `task` is full and all its tasks ended.
    fn group_complete(&self, task: TaskId, n: u64) -> bool {
        let group = self.tasks[task.0 as usize].1;
        let open = self
            .open
            .iter()
            .any(|t| self.tasks[t.0 as usize].1 == group);
        self.group_sizes[&group] == n && !open
    }
}

fn check_decision(
    case: &Case,
    m: &mut Model,
    event: Event,
    decision: &Decision,
    was_due: bool,
    pending_before: usize,
) -> Result<(), TestCaseError> {
    let mut last = None;
    for &t in &decision.write {
        let place = m.finished.get(&t).copied();
        prop_assert!(place.is_some(), "{} written before it finished", t);
        prop_assert!(!m.avoided(case, t), "{} of an avoided app written", t);
        prop_assert!(m.written.insert(t), "{} written twice", t);
        prop_assert!(
            last < place,
            "writes out of finish order: {:?}",
            decision.write
        );
        last = place;
    }
    match event {
        Event::Finish(t) if m.avoided(case, t) => prop_assert_eq!(&decision.drop, &vec![t]),
        _ => prop_assert!(decision.drop.is_empty()),
    }
    for &t in &decision.drop {
        prop_assert!(m.dropped.insert(t));
    }
    let explicit = matches!(event, Event::Manual | Event::Exit);
    if explicit {
        prop_assert_eq!(
            decision.write.len(),
            pending_before,
            "not everything pending"
        );
    }
    let written = decision.write.len();
    match case.mode {
        0 => match event {
            Event::Finish(t) if !m.avoided(case, t) => prop_assert_eq!(&decision.write, &vec![t]),
            _ => prop_assert_eq!(written, 0),
        },
        1 if !explicit => prop_assert!(written == 0 || was_due, "periodic wrote early"),
        1 if was_due && event == Event::Tick => prop_assert_eq!(written, pending_before),
        2 | 3 => prop_assert!(
            written == 0 || explicit,
            "wrote before the end or a request"
        ),
        4 if !explicit => prop_assert!(written == 0 || written as u64 == case.n),
        5 | 6 if !explicit => {
            for &t in &decision.write {
                prop_assert!(
                    m.group_complete(t, case.n),
                    "{} written before its group",
                    t
                );
            }
        }
        _ => {}
    }
    Ok(())
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let config = PolicyConfig::new(mode(&case))
        .expect("valid")
        .avoiding((0..APPS.len()).filter(|&a| case.avoid[a]).map(|a| APPS[a]));
    let mut now = Duration::from_millis(1000);
    let mut p = CheckpointPolicy::new(config, now);
    prop_assert_eq!(p.durable_before_resolve(), case.mode == 0);
    let mut m = Model::default();
    let mut per_app = [0u64; APPS.len()];
    for op in &case.ops {
        let (was_due, pending_before) = (p.next_deadline().is_some_and(|d| d <= now), p.pending());
        let (event, decision) = match *op {
            Op::Submit(app) => {
                let task = TaskId(m.tasks.len() as u64);
                let group = match case.mode {
                    5 => (0, task.0 / case.n),
                    _ => (app, per_app[app] / case.n),
                };
                per_app[app] += 1;
                *m.group_sizes.entry(group).or_default() += 1;
                m.tasks.push((app, group));
                m.open.push(task);
                p.on_submit(task, APPS[app]);
                continue;
            }
            Op::Finish(i) | Op::Reuse(i) | Op::Unrecorded(i) if !m.open.is_empty() => {
                let task = m.open.swap_remove(i.index(m.open.len()));
                m.ended.push(task);
                if let Op::Finish(_) = op {
                    m.finished.insert(task, m.finished.len());
                    let app = APPS[m.tasks[task.0 as usize].0];
                    (Event::Finish(task), p.on_finished(task, app, now))
                } else if let Op::Reuse(_) = op {
                    (Event::Ended, p.on_reused(task))
                } else {
                    (Event::Ended, p.on_unrecorded(task))
                }
            }
            Op::Repeat(i) if !m.ended.is_empty() => {
                let task = m.ended[i.index(m.ended.len())];
                let app = APPS[m.tasks[task.0 as usize].0];
                prop_assert!(p.on_finished(task, app, now).is_empty());
                continue;
            }
            Op::Wait(ms, tick) => {
                now += Duration::from_millis(ms);
                if !tick {
                    continue;
                }
                let due = p.next_deadline().is_some_and(|d| d <= now);
                let decision = p.on_tick(now);
                check_decision(&case, &mut m, Event::Tick, &decision, due, pending_before)?;
                if let Some(deadline) = p.next_deadline() {
                    prop_assert!(deadline > now);
                }
                continue;
            }
            Op::Manual => (Event::Manual, p.on_manual()),
            Op::Finish(_) | Op::Reuse(_) | Op::Unrecorded(_) | Op::Repeat(_) => continue,
        };
        check_decision(&case, &mut m, event, &decision, was_due, pending_before)?;
        if case.mode == 1 && matches!(event, Event::Finish(_)) {
            prop_assert!(p.next_deadline().is_some_and(|d| d > now));
            prop_assert!(
                !was_due || p.pending() == 0,
                "a due finish left records pending"
            );
        }
    }
    let pending_before = p.pending();
    let decision = p.on_exit();
    check_decision(&case, &mut m, Event::Exit, &decision, false, pending_before)?;
    prop_assert_eq!(p.pending(), 0);
    prop_assert_eq!(p.next_deadline(), None);
    for &task in m.finished.keys() {
        let avoided = m.avoided(&case, task);
        prop_assert_eq!(
            m.written.contains(&task),
            !avoided,
            "task {} written?",
            task
        );
        prop_assert_eq!(m.dropped.contains(&task), avoided, "task {} dropped?", task);
    }
    prop_assert!(m.written.iter().all(|t| m.finished.contains_key(t)));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_finished_task_is_written_once_by_the_end(case in case()) {
        check(case)?;
    }
}
