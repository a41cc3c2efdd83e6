//! Scenario tests: feed events, assert on the actions.

use std::sync::Arc;

use super::*;
use crate::key::TaskKey;

fn spec(app: &str, args: Vec<ArgSource>, cache: bool, max_retries: u32) -> TaskSpec {
    TaskSpec {
        app: Arc::from(app),
        args,
        cache,
        max_retries,
    }
}

fn value(byte: u8) -> ArgSource {
    ArgSource::Value(vec![byte])
}

fn key(n: u8) -> TaskKey {
    TaskKey([n; 32])
}

/// A scheduler and the actions of the latest event.
#[derive(Default)]
struct Run {
    sched: Scheduler,
    out: Vec<Action>,
}

impl Run {
    fn submit(&mut self, spec: TaskSpec) -> TaskId {
        self.out.clear();
        self.sched
            .on_submit(spec, &mut self.out)
            .expect("valid submission")
    }

    fn lookup(&mut self, task: TaskId, key: TaskKey, answer: LookupAnswer) -> &[Action] {
        self.out.clear();
        self.sched.on_lookup_done(task, key, answer, &mut self.out);
        &self.out
    }

    fn finish(&mut self, task: TaskId, result: &[u8]) -> &[Action] {
        self.out.clear();
        self.sched.on_finished(task, result.to_vec(), &mut self.out);
        &self.out
    }

    fn fail(&mut self, task: TaskId, reason: &str) -> &[Action] {
        self.out.clear();
        self.sched.on_failed(task, reason, &mut self.out);
        &self.out
    }

    fn cancel(&mut self, task: TaskId) -> &[Action] {
        self.out.clear();
        self.sched.on_cancel(task, &mut self.out);
        &self.out
    }

    /// Looks `task` up as a miss under `key` and finishes it with `result`.
    fn execute(&mut self, task: TaskId, k: TaskKey, result: &[u8]) -> &[Action] {
        assert!(matches!(
            self.lookup(task, k, LookupAnswer::Miss),
            [Action::Run { .. }]
        ));
        self.finish(task, result)
    }
}

fn lookup(task: TaskId, args: &[&[u8]], cache: bool) -> Action {
    Action::Lookup {
        task,
        args: args.iter().map(|a| a.to_vec()).collect(),
        cache,
    }
}

fn run(task: TaskId, k: TaskKey, args: &[&[u8]], attempt: u32) -> Action {
    Action::Run {
        task,
        key: k,
        args: args.iter().map(|a| a.to_vec()).collect(),
        attempt,
    }
}

fn resolved(task: TaskId, how: Resolution) -> Action {
    Action::Resolved { task, how }
}

fn failed(task: TaskId, reason: &str, cause: FailureCause) -> Action {
    Action::Failed {
        task,
        reason: reason.into(),
        cause,
    }
}

const EXECUTED: Resolution = Resolution::Executed { attempts: 1 };

#[test]
fn a_chain_runs_in_dependency_order() {
    let mut r = Run::default();
    let a = r.submit(spec("double", vec![value(4)], true, 0));
    assert_eq!(r.out, [lookup(a, &[&[4]], true)]);
    let b = r.submit(spec("double", vec![ArgSource::Future(a)], true, 0));
    assert_eq!(r.out, []);
    assert_eq!(r.sched.status(b), Some(TaskStatus::Waiting));
    assert_eq!(
        r.lookup(a, key(1), LookupAnswer::Miss),
        [run(a, key(1), &[&[4]], 1)]
    );
    assert_eq!(r.sched.status(a), Some(TaskStatus::Running { attempt: 1 }));
    assert_eq!(
        r.finish(a, &[8]),
        [resolved(a, EXECUTED), lookup(b, &[&[8]], true)]
    );
    assert_eq!(r.sched.result(a), Some(&[8][..]));
    assert!(!r.sched.is_finished());
    r.execute(b, key(2), &[16]);
    assert!(r.sched.is_finished());
    assert_eq!(r.sched.result(b), Some(&[16][..]));
    let counts = r.sched.counts();
    assert_eq!(
        (
            counts.submitted,
            counts.executed,
            counts.resolved,
            counts.running
        ),
        (2, 2, 2, 0)
    );
}

#[test]
fn a_task_submitted_after_its_dependency_resolved_is_ready_at_once() {
    let mut r = Run::default();
    let a = r.submit(spec("double", vec![value(4)], true, 0));
    r.execute(a, key(1), &[8]);
    let b = r.submit(spec(
        "add",
        vec![ArgSource::Future(a), value(1), ArgSource::Future(a)],
        true,
        0,
    ));
    assert_eq!(r.out, [lookup(b, &[&[8], &[1], &[8]], true)]);
}

#[test]
fn a_fan_in_is_the_postcard_vec_of_the_results_in_order() {
    let mut r = Run::default();
    let xs: Vec<i64> = vec![3, -70, 1 << 40];
    let ids: Vec<TaskId> = xs
        .iter()
        .map(|_| r.submit(spec("leaf", vec![], false, 0)))
        .collect();
    let total = r.submit(spec(
        "total",
        vec![ArgSource::Futures(ids.clone()), value(9)],
        true,
        0,
    ));
    // Finish the leaves in reverse: the order of the Vec is the order of the argument.
    for (i, (&id, x)) in ids.iter().zip(&xs).enumerate().rev() {
        let bytes = postcard::to_allocvec(x).expect("encodes");
        r.execute(id, key(i as u8), &bytes);
    }
    let expected = postcard::to_allocvec(&xs).expect("encodes");
    assert_eq!(r.out.last(), Some(&lookup(total, &[&expected, &[9]], true)));
    let empty = r.submit(spec("total", vec![ArgSource::Futures(vec![])], true, 0));
    assert_eq!(r.out, [lookup(empty, &[&[0]], true)]);
}

#[test]
fn a_fan_in_of_ten_thousand_is_linear() {
    let mut r = Run::default();
    let leaf = r.submit(spec("leaf", vec![], true, 0));
    let n = 10_000;
    let ids: Vec<TaskId> = (0..n)
        .map(|_| r.submit(spec("id", vec![ArgSource::Future(leaf)], false, 0)))
        .collect();
    let total = r.submit(spec(
        "total",
        vec![ArgSource::Futures(ids.clone())],
        true,
        0,
    ));
    // The same future many times over counts once per occurrence.
    let again = r.submit(spec(
        "total",
        vec![ArgSource::Futures(vec![leaf; n])],
        true,
        0,
    ));
    r.execute(leaf, key(0), &[1]);
    assert_eq!(r.out.len(), 1 + n + 1); // resolved, then a lookup per `id` and one for `again`
    let Some(Action::Lookup { task, args, .. }) = r.out.last() else {
        panic!("{:?}", r.out.last())
    };
    assert_eq!(
        (*task, &args[0]),
        (
            again,
            &postcard::to_allocvec(&vec![1u8; n]).expect("encodes")
        )
    );
    for &id in &ids {
        r.execute(id, key(1), &[7]);
    }
    let Some(Action::Lookup { task, args, .. }) = r.out.last() else {
        panic!("{:?}", r.out.last())
    };
    assert_eq!(*task, total);
    assert_eq!(
        args[0],
        postcard::to_allocvec(&vec![7u8; n]).expect("encodes")
    );
    assert_eq!(r.sched.status(again), Some(TaskStatus::LookingUp));
}

#[test]
fn identical_tasks_in_flight_run_once_and_share_the_result() {
    let mut r = Run::default();
    let a = r.submit(spec("slow", vec![value(1)], true, 0));
    let b = r.submit(spec("slow", vec![value(1)], true, 0));
    let after_b = r.submit(spec("next", vec![ArgSource::Future(b)], true, 0));
    assert_eq!(
        r.lookup(a, key(1), LookupAnswer::Miss),
        [run(a, key(1), &[&[1]], 1)]
    );
    assert_eq!(r.lookup(b, key(1), LookupAnswer::Miss), []);
    assert_eq!(r.sched.status(b), Some(TaskStatus::Sharing { with: a }));
    let shared = Resolution::Shared { with: a };
    assert_eq!(
        r.finish(a, &[5]),
        [
            resolved(a, EXECUTED),
            resolved(b, shared),
            lookup(after_b, &[&[5]], true)
        ]
    );
    assert_eq!(r.sched.result(b), Some(&[5][..]));
    assert!(shared.is_cached() && !EXECUTED.is_cached());
    let counts = r.sched.counts();
    assert_eq!((counts.executed, counts.shared, counts.attempts), (1, 1, 1));
    // Once it has finished, an equal key is for the memo table to answer; a miss runs again.
    let c = r.submit(spec("slow", vec![value(1)], true, 0));
    assert_eq!(
        r.lookup(c, key(1), LookupAnswer::Miss),
        [run(c, key(1), &[&[1]], 1)]
    );
}

#[test]
fn tasks_that_may_not_be_memoized_are_never_shared_nor_hit() {
    let mut r = Run::default();
    let a = r.submit(spec("noisy", vec![value(1)], false, 0));
    assert_eq!(r.out, [lookup(a, &[&[1]], false)]);
    let b = r.submit(spec("noisy", vec![value(1)], false, 0));
    assert_eq!(
        r.lookup(a, key(1), LookupAnswer::Miss),
        [run(a, key(1), &[&[1]], 1)]
    );
    assert_eq!(
        r.lookup(b, key(1), LookupAnswer::Hit(vec![3])),
        [run(b, key(1), &[&[1]], 1)]
    );
}

#[test]
fn identical_tasks_share_a_failure_and_fail_their_own_descendants() {
    let mut r = Run::default();
    let a = r.submit(spec("boom", vec![], true, 0));
    let b = r.submit(spec("boom", vec![], true, 0));
    let after_b = r.submit(spec("next", vec![ArgSource::Future(b)], true, 0));
    r.lookup(a, key(1), LookupAnswer::Miss);
    r.lookup(b, key(1), LookupAnswer::Miss);
    assert_eq!(
        r.fail(a, "trap"),
        [
            failed(a, "trap", FailureCause::Own { attempts: 1 }),
            failed(
                b,
                "identical task 0 failed: trap",
                FailureCause::Identical { with: a }
            ),
            failed(
                after_b,
                "dependency task 1 (`boom`) failed: identical task 0 failed: trap",
                FailureCause::Dependency { root: b }
            ),
        ]
    );
}

#[test]
fn a_memo_hit_never_runs_and_resolves_dependants_like_a_run() {
    let mut r = Run::default();
    let a = r.submit(spec("slow", vec![value(1)], true, 0));
    let b = r.submit(spec(
        "next",
        vec![ArgSource::Future(a), ArgSource::Futures(vec![a])],
        true,
        0,
    ));
    assert_eq!(
        r.lookup(a, key(1), LookupAnswer::Hit(vec![42])),
        [
            resolved(a, Resolution::Memo),
            lookup(b, &[&[42], &[1, 42]], true)
        ]
    );
    assert_eq!(
        r.lookup(b, key(2), LookupAnswer::Hit(vec![43])),
        [resolved(b, Resolution::Memo)]
    );
    let counts = r.sched.counts();
    assert_eq!(
        (
            counts.cached,
            counts.executed,
            counts.attempts,
            counts.resolved
        ),
        (2, 0, 0, 2)
    );
    assert!(r.sched.is_finished());
}

#[test]
fn a_recorded_failure_fails_without_running() {
    let mut r = Run::default();
    let a = r.submit(spec("boom", vec![], true, 3));
    let b = r.submit(spec("next", vec![ArgSource::Future(a)], true, 0));
    assert_eq!(
        r.lookup(a, key(1), LookupAnswer::HitFailure("bad input".into())),
        [
            failed(a, "bad input", FailureCause::Memo),
            failed(
                b,
                "dependency task 0 (`boom`) failed: bad input",
                FailureCause::Dependency { root: a }
            ),
        ]
    );
}

#[test]
fn retries_rerun_until_success_or_the_last_attempt() {
    let mut r = Run::default();
    let a = r.submit(spec("flaky", vec![value(1)], true, 2));
    r.lookup(a, key(1), LookupAnswer::Miss);
    assert_eq!(r.fail(a, "timeout"), [run(a, key(1), &[&[1]], 2)]);
    assert_eq!(
        r.finish(a, &[9]),
        [resolved(a, Resolution::Executed { attempts: 2 })]
    );
    assert_eq!(r.sched.counts().attempts, 2);

    let b = r.submit(spec("flaky", vec![value(2)], true, 2));
    r.lookup(b, key(2), LookupAnswer::Miss);
    assert_eq!(r.fail(b, "timeout"), [run(b, key(2), &[&[2]], 2)]);
    assert_eq!(r.sched.status(b), Some(TaskStatus::Running { attempt: 2 }));
    assert_eq!(r.fail(b, "timeout"), [run(b, key(2), &[&[2]], 3)]);
    assert_eq!(
        r.fail(b, "trap: unreachable"),
        [failed(
            b,
            "trap: unreachable",
            FailureCause::Own { attempts: 3 }
        )]
    );
    assert_eq!(r.sched.failure(b).map(|r| &**r), Some("trap: unreachable"));
    let counts = r.sched.counts();
    assert_eq!((counts.attempts, counts.failed, counts.running), (5, 1, 0));
}

#[test]
fn a_failure_fails_exactly_the_descendants_naming_where_it_started() {
    let mut r = Run::default();
    let bad = r.submit(spec("boom", vec![], true, 0));
    let good = r.submit(spec("fine", vec![], true, 0));
    let child = r.submit(spec(
        "mid",
        vec![ArgSource::Future(bad), ArgSource::Future(good)],
        true,
        0,
    ));
    let grandchild = r.submit(spec(
        "top",
        vec![ArgSource::Futures(vec![good, child])],
        true,
        0,
    ));
    let sibling = r.submit(spec("side", vec![ArgSource::Future(good)], true, 0));
    r.lookup(bad, key(1), LookupAnswer::Miss);
    let why = "dependency task 0 (`boom`) failed: oops";
    let dependency = FailureCause::Dependency { root: bad };
    assert_eq!(
        r.fail(bad, "oops"),
        [
            failed(bad, "oops", FailureCause::Own { attempts: 1 }),
            failed(child, why, dependency),
            failed(grandchild, why, dependency),
        ]
    );
    // The healthy branch goes on, and skips the failed dependants.
    assert_eq!(
        r.execute(good, key(2), &[1]),
        [resolved(good, EXECUTED), lookup(sibling, &[&[1]], true)]
    );
    // A task submitted later over a failed ancestor fails at once, with the same story.
    let late = r.submit(spec(
        "late",
        vec![value(0), ArgSource::Future(grandchild)],
        true,
        0,
    ));
    assert_eq!(r.out, [failed(late, why, dependency)]);
    let late_direct = r.submit(spec(
        "late",
        vec![ArgSource::Futures(vec![good, bad])],
        true,
        0,
    ));
    assert_eq!(r.out, [failed(late_direct, why, dependency)]);
    let counts = r.sched.counts();
    assert_eq!(
        (counts.failed, counts.resolved, counts.pending()),
        (5, 1, 1)
    );
}

#[test]
fn cancelling_fails_the_task_and_descendants_and_later_reports_are_ignored() {
    let mut r = Run::default();
    let a = r.submit(spec("slow", vec![], true, 0));
    let b = r.submit(spec("next", vec![ArgSource::Future(a)], true, 0));
    let c = r.submit(spec("next", vec![ArgSource::Future(b)], true, 0));
    r.execute(a, key(1), &[1]);
    assert_eq!(
        r.cancel(b),
        [
            failed(b, "cancelled", FailureCause::Cancelled),
            failed(
                c,
                "dependency task 1 (`next`) failed: cancelled",
                FailureCause::Dependency { root: b }
            ),
        ]
    );
    // The lookup that was under way comes back: nothing happens.
    assert_eq!(r.lookup(b, key(2), LookupAnswer::Miss), []);
    assert_eq!(r.cancel(b), []);
    assert_eq!(r.cancel(a), []);
    assert!(r.sched.is_finished());
}

#[test]
fn cancelling_a_running_leader_aborts_it_and_promotes_an_identical_task() {
    let mut r = Run::default();
    let a = r.submit(spec("slow", vec![value(1)], true, 0));
    let b = r.submit(spec("slow", vec![value(1)], true, 0));
    let c = r.submit(spec("slow", vec![value(1)], true, 0));
    let d = r.submit(spec("slow", vec![value(1)], true, 0));
    for t in [a, b, c, d] {
        r.lookup(t, key(1), LookupAnswer::Miss);
    }
    assert_eq!(
        r.cancel(b),
        [failed(b, "cancelled", FailureCause::Cancelled)]
    );
    assert_eq!(
        r.cancel(a),
        [
            Action::Abort { task: a },
            run(c, key(1), &[&[1]], 1),
            failed(a, "cancelled", FailureCause::Cancelled)
        ]
    );
    assert_eq!(r.sched.status(d), Some(TaskStatus::Sharing { with: c }));
    assert_eq!(r.finish(a, &[0]), []);
    assert_eq!(r.fail(a, "interrupted"), []);
    assert_eq!(
        r.finish(c, &[2]),
        [
            resolved(c, EXECUTED),
            resolved(d, Resolution::Shared { with: c })
        ]
    );
    let counts = r.sched.counts();
    assert_eq!(
        (
            counts.failed,
            counts.executed,
            counts.shared,
            counts.running
        ),
        (2, 1, 1, 0)
    );
    assert!(r.sched.is_finished());
}

#[test]
fn unknown_dependencies_are_refused_and_unknown_ids_ignored() {
    let mut r = Run::default();
    let a = r.submit(spec("x", vec![], true, 0));
    let bad = spec("y", vec![ArgSource::Futures(vec![a, TaskId(7)])], true, 0);
    assert_eq!(
        r.sched.on_submit(bad, &mut r.out),
        Err(SubmitError::UnknownTask {
            dependency: TaskId(7)
        })
    );
    assert_eq!(r.sched.counts().submitted, 1);
    assert_eq!(r.sched.status(TaskId(1)), None);
    assert_eq!(r.finish(TaskId(u64::MAX), &[]), []);
    assert_eq!(r.finish(a, &[]), []); // not running yet
    assert_eq!(r.sched.app(a).map(|a| &**a), Some("x"));
}
