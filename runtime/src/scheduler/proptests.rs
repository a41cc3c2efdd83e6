//! Random DAGs submitted and completed in random order, with deterministic failures, retries,
//! memo hits and identical tasks, checked against a model computed independently.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;
use crate::key::TaskKey;

const APPS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum RawArg {
    Value(u8),
    Future(Index),
    Futures(Vec<Index>),
}

#[derive(Debug, Clone)]
struct Case {
    /// Per app: may it be memoized, and how many retries.
    apps: Vec<(bool, u32)>,
    /// Per task: its app and arguments, indices picking among earlier tasks; or a copy of an
    /// earlier task, so that identical tasks are common.
    tasks: Vec<(usize, Vec<RawArg>, Option<Index>)>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let arg = prop_oneof![
        (0u8..3).prop_map(RawArg::Value),
        any::<Index>().prop_map(RawArg::Future),
        proptest::collection::vec(any::<Index>(), 0..6).prop_map(RawArg::Futures),
    ];
    let task = (
        0..APPS.len(),
        proptest::collection::vec(arg, 0..4),
        proptest::option::weighted(0.3, any::<Index>()),
    );
    (
        proptest::collection::vec((any::<bool>(), 0u32..3), APPS.len()),
        proptest::collection::vec(task, 1..60),
        any::<u64>(),
    )
        .prop_map(|(apps, tasks, seed)| Case { apps, tasks, seed })
}

/// Each task's app and arguments, indices resolved to earlier tasks (the first task gets
/// values only).
fn concrete(case: &Case) -> Vec<(usize, Vec<ArgSource>)> {
    let pick = |i: usize, index: &Index| TaskId(index.index(i) as u64);
    let mut out: Vec<(usize, Vec<ArgSource>)> = Vec::new();
    for (i, (app, args, copy)) in case.tasks.iter().enumerate() {
        if let Some(original) = copy.as_ref().filter(|_| i > 0) {
            let copied = out[original.index(i)].clone();
            out.push(copied);
            continue;
        }
        let args = args.iter().map(|arg| match arg {
            RawArg::Future(index) if i > 0 => ArgSource::Future(pick(i, index)),
            RawArg::Futures(ids) if i > 0 => {
                ArgSource::Futures(ids.iter().map(|x| pick(i, x)).collect())
            }
            RawArg::Future(_) | RawArg::Futures(_) => ArgSource::Value(vec![9]),
            RawArg::Value(v) => ArgSource::Value(vec![*v]),
        });
        out.push((*app, args.collect()));
    }
    out
}

// The fake world: everything follows from the key, as it does for deterministic apps.
fn key_of(app: &str, args: &[Vec<u8>]) -> TaskKey {
    let mut h = blake3::Hasher::new();
    h.update(app.as_bytes()).update(&[0]);
    for arg in args {
        h.update(&(arg.len() as u64).to_le_bytes()).update(arg);
    }
    TaskKey(*h.finalize().as_bytes())
}
fn result_of(key: &TaskKey) -> Vec<u8> {
    key.0[3..3 + usize::from(key.0[0] % 4)].to_vec()
}
/// How many runs of this key fail before one succeeds: mostly none, so that failures do not
/// swallow whole DAGs.
fn failing_runs(key: &TaskKey) -> u32 {
    match key.0[1] {
        0..20 => 3,
        20..70 => 1,
        _ => 0,
    }
}
/// Whether a loaded checkpoint already holds this key.
fn in_checkpoint(key: &TaskKey) -> bool {
    key.0[2].is_multiple_of(4)
}

/// What should happen to each task, computed without the scheduler.
struct Model {
    /// `Some((args, key, result))` for a task whose dependencies all succeed.
    ready: Vec<Option<(Vec<Vec<u8>>, TaskKey)>>,
    outcome: Vec<Option<Vec<u8>>>,
    /// The tasks whose own key fails.
    roots: HashSet<usize>,
}

fn model(case: &Case, tasks: &[(usize, Vec<ArgSource>)]) -> Model {
    let n = tasks.len();
    let mut m = Model {
        ready: vec![None; n],
        outcome: vec![None; n],
        roots: HashSet::new(),
    };
    for (i, (app, args)) in tasks.iter().enumerate() {
        let (cache, retries) = case.apps[*app];
        let ok = |id: &TaskId| m.outcome[id.0 as usize].clone();
        let bytes: Option<Vec<Vec<u8>>> = args
            .iter()
            .map(|arg| match arg {
                ArgSource::Value(v) => Some(v.clone()),
                ArgSource::Future(id) => ok(id),
                ArgSource::Futures(ids) => {
                    let mut v = postcard::to_allocvec(&(ids.len() as u64)).expect("encodes");
                    for id in ids {
                        v.extend(ok(id)?);
                    }
                    Some(v)
                }
            })
            .collect();
        let Some(bytes) = bytes else { continue };
        let key = key_of(APPS[*app], &bytes);
        if (cache && in_checkpoint(&key)) || failing_runs(&key) <= retries {
            m.outcome[i] = Some(result_of(&key));
        } else {
            m.roots.insert(i);
        }
        m.ready[i] = Some((bytes, key));
    }
    m
}

/// The failed set, as the roots and everything reachable from them.
fn descendants_of(roots: &HashSet<usize>, tasks: &[(usize, Vec<ArgSource>)]) -> HashSet<usize> {
    let mut failed = roots.clone();
    for (i, (_, task_args)) in tasks.iter().enumerate() {
        if task_args
            .iter()
            .flat_map(ArgSource::dependencies)
            .any(|d| failed.contains(&(d.0 as usize)))
        {
            failed.insert(i);
        }
    }
    failed
}

enum Pending {
    Lookup(TaskId, TaskArgs),
    Run(TaskId, TaskKey, u32),
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let sources = concrete(&case);
    let m = model(&case, &sources);
    let n = sources.len();
    let app_of = |t: TaskId| sources[t.0 as usize].0;
    let (mut sched, mut out, mut pending) = (Scheduler::new(), Vec::new(), Vec::new());
    let mut memo: HashMap<TaskKey, Vec<u8>> = HashMap::new();
    let mut runs = vec![0u32; n];
    let mut ended: Vec<Option<Action>> = vec![None; n];
    let mut running_keys: HashMap<TaskKey, TaskId> = HashMap::new();
    let mut rng = case.seed;
    let mut submitted = 0;
    loop {
        for action in out.drain(..) {
            match action {
                Action::Lookup { task, args, cache } => {
                    let (expected, _) = m.ready[task.0 as usize]
                        .as_ref()
                        .expect("looked up ⇒ deps ok");
                    prop_assert_eq!(&args[..], &expected[..]);
                    prop_assert_eq!(cache, case.apps[app_of(task)].0);
                    pending.push(Pending::Lookup(task, args));
                }
                Action::Run {
                    task,
                    key,
                    args,
                    attempt,
                } => {
                    let i = task.0 as usize;
                    let (cache, retries) = case.apps[app_of(task)];
                    runs[i] += 1;
                    prop_assert_eq!(attempt, runs[i]);
                    prop_assert!(runs[i] <= 1 + retries, "task {} ran {} times", i, runs[i]);
                    prop_assert_eq!(Some(&(args.to_vec(), key)), m.ready[i].as_ref());
                    for &dep in sources[i].1.iter().flat_map(ArgSource::dependencies) {
                        prop_assert!(matches!(sched.status(dep), Some(TaskStatus::Resolved(_))));
                    }
                    prop_assert!(!(cache && in_checkpoint(&key)), "a memo hit ran");
                    if cache && attempt == 1 {
                        let twin = running_keys.insert(key, task);
                        prop_assert!(
                            twin.is_none(),
                            "identical tasks {:?} and {} ran at once",
                            twin,
                            task
                        );
                    }
                    pending.push(Pending::Run(task, key, attempt));
                }
                Action::Resolved { task, .. } | Action::Failed { task, .. } => {
                    prop_assert!(
                        ended[task.0 as usize].is_none(),
                        "task {} ended twice",
                        task
                    );
                    if let Some((_, key)) = &m.ready[task.0 as usize]
                        && running_keys.get(key) == Some(&task)
                    {
                        running_keys.remove(key);
                    }
                    if let Action::Failed {
                        cause: FailureCause::Dependency { root },
                        ..
                    } = &action
                    {
                        prop_assert!(m.roots.contains(&(root.0 as usize)) && *root < task);
                    }
                    ended[task.0 as usize] = Some(action);
                }
                Action::Abort { task } => {
                    prop_assert!(false, "nothing was cancelled, yet {} aborted", task)
                }
            }
        }
        let r = splitmix(&mut rng);
        if submitted < n && (pending.is_empty() || r.is_multiple_of(3)) {
            let spec = TaskSpec {
                app: Arc::from(APPS[sources[submitted].0]),
                args: sources[submitted].1.clone(),
                cache: case.apps[sources[submitted].0].0,
                max_retries: case.apps[sources[submitted].0].1,
            };
            prop_assert_eq!(
                sched.on_submit(spec, &mut out),
                Ok(TaskId(submitted as u64))
            );
            submitted += 1;
            continue;
        }
        if pending.is_empty() {
            break;
        }
        match pending.swap_remove((r >> 8) as usize % pending.len()) {
            Pending::Lookup(task, args) => {
                let key = key_of(APPS[app_of(task)], &args);
                let answer = match memo.get(&key) {
                    Some(result) if case.apps[app_of(task)].0 => LookupAnswer::Hit(result.clone()),
                    _ if case.apps[app_of(task)].0 && in_checkpoint(&key) => {
                        LookupAnswer::Hit(result_of(&key))
                    }
                    _ => LookupAnswer::Miss,
                };
                sched.on_lookup_done(task, key, answer, &mut out);
            }
            Pending::Run(task, key, attempt) if attempt <= failing_runs(&key) => {
                sched.on_failed(task, &format!("run {attempt} failed"), &mut out);
            }
            Pending::Run(task, key, _) => {
                if case.apps[app_of(task)].0 {
                    memo.insert(key, result_of(&key));
                }
                sched.on_finished(task, result_of(&key), &mut out);
            }
        }
    }

    prop_assert!(sched.is_finished());
    let expected_failed = descendants_of(&m.roots, &sources);
    let mut failed = HashSet::new();
    for (i, end) in ended.iter().enumerate() {
        let task = TaskId(i as u64);
        match end {
            Some(Action::Resolved { .. }) => {
                prop_assert_eq!(sched.result(task), m.outcome[i].as_deref(), "task {}", i)
            }
            Some(Action::Failed { .. }) => {
                failed.insert(i);
                prop_assert!(sched.failure(task).is_some());
            }
            other => prop_assert!(false, "task {} ended with {:?}", i, other),
        }
    }
    prop_assert_eq!(&failed, &expected_failed);
    let c = sched.counts();
    prop_assert_eq!(c.submitted, n as u64);
    prop_assert_eq!(c.failed, failed.len() as u64);
    prop_assert_eq!(c.resolved + c.failed, c.submitted);
    prop_assert_eq!(c.resolved, c.executed + c.cached + c.shared);
    prop_assert_eq!(c.attempts, runs.iter().map(|&r| u64::from(r)).sum::<u64>());
    prop_assert_eq!(c.running, 0);
    prop_assert!(running_keys.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_dags_in_random_order_match_the_model(case in case()) {
        check(case)?;
    }
}
