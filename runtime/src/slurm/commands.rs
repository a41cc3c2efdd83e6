//! Running `sbatch`, `squeue` and `scancel`, and reading what they print.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::SlurmConfig;

/// One `sbatch --array` submission.
#[derive(Debug)]
pub(crate) struct Submission<'a> {
    pub config: &'a SlurmConfig,
    /// The job name: how the run finds (and cancels) its jobs.
    pub name: &'a str,
    /// Array elements `0..elements`.
    pub elements: u32,
    /// Where each element's output goes (`%A` and `%a` expanded by Slurm).
    pub log: &'a Path,
    /// The elements' working directory.
    pub chdir: &'a Path,
    /// What each element runs.
    pub command: Vec<OsString>,
}

/// One element of an array job, as `squeue` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ArrayElement {
    /// The array's job id.
    pub job: String,
    /// The element's index.
    pub element: u32,
}

fn run(program: &str, args: &[OsString]) -> Result<Output, String> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running `{program}`: {e} (is Slurm installed and on PATH?)"))
}

fn failed(program: &str, output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("`{program}` failed ({}): {}", output.status, stderr.trim())
}

/// Submits an array job; answers its job id.
pub(crate) fn submit_array(submission: &Submission<'_>) -> Result<String, String> {
    let Some(last) = submission.elements.checked_sub(1) else {
        return Err("an array job needs at least one element".to_owned());
    };
    let config = submission.config;
    let mut args: Vec<OsString> = vec![
        "--parsable".into(),
        format!("--job-name={}", submission.name).into(),
        format!("--array=0-{last}").into(),
        "--ntasks=1".into(),
        "--cpus-per-task=1".into(),
        flag("--output=", submission.log.as_os_str()),
        flag("--chdir=", submission.chdir.as_os_str()),
    ];
    if let Some(partition) = &config.partition {
        args.push(format!("--partition={partition}").into());
    }
    if let Some(account) = &config.account {
        args.push(format!("--account={account}").into());
    }
    if let Some(time) = &config.time {
        args.push(format!("--time={time}").into());
    }
    args.extend(config.sbatch_args.iter().map(OsString::from));
    let mut script = OsString::from("exec");
    for word in &submission.command {
        script.push(" ");
        script.push(shell_quote(word));
    }
    args.push(flag("--wrap=", &script));
    let output = run("sbatch", &args)?;
    if !output.status.success() {
        return Err(failed("sbatch", &output));
    }
    parse_job_id(&String::from_utf8_lossy(&output.stdout))
}

fn flag(name: &str, value: &OsStr) -> OsString {
    let mut flag = OsString::from(name);
    flag.push(value);
    flag
}

/// `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
fn parse_job_id(stdout: &str) -> Result<String, String> {
    let id = stdout.trim().split(';').next().unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("sbatch printed `{}`, not a job id", stdout.trim()));
    }
    Ok(id.to_owned())
}

/// Quotes `word` for `sh`: single quotes, each `'` written as `'\''`.
fn shell_quote(word: &OsStr) -> OsString {
    let text = word.to_string_lossy();
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    OsString::from(quoted)
}

/// The array elements of jobs named `name` that are still pending, running or completing.
pub(crate) fn queued_elements(name: &str) -> Result<HashSet<ArrayElement>, String> {
    let args: Vec<OsString> = vec![
        "--noheader".into(),
        "--array".into(),
        format!("--name={name}").into(),
        "--format=%F %K %T".into(),
    ];
    let output = run("squeue", &args)?;
    if !output.status.success() {
        return Err(failed("squeue", &output));
    }
    Ok(parse_queue(&String::from_utf8_lossy(&output.stdout)))
}

/// Lines of `ARRAY_JOB_ID ARRAY_TASK_ID STATE`; jobs that are not arrays (`N/A`) are skipped.
fn parse_queue(stdout: &str) -> HashSet<ArrayElement> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let job = fields.next()?;
            let element = fields.next()?.parse().ok()?;
            Some(ArrayElement {
                job: job.to_owned(),
                element,
            })
        })
        .collect()
}

/// Cancels every job named `name` and the jobs listed.
pub(crate) fn cancel(name: &str, jobs: &[String]) -> Result<(), String> {
    let mut args: Vec<OsString> = vec!["--quiet".into(), format!("--name={name}").into()];
    let output = run("scancel", &args)?;
    if !output.status.success() {
        return Err(failed("scancel", &output));
    }
    if jobs.is_empty() {
        return Ok(());
    }
    args.truncate(1);
    args.extend(jobs.iter().map(OsString::from));
    let output = run("scancel", &args)?;
    if !output.status.success() {
        return Err(failed("scancel", &output));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_read_from_parsable_output() {
        assert_eq!(parse_job_id("1234\n").as_deref(), Ok("1234"));
        assert_eq!(parse_job_id("77;cluster\n").as_deref(), Ok("77"));
        assert!(parse_job_id("Submitted batch job 5\n").is_err());
        assert!(parse_job_id("").is_err());
    }

    #[test]
    fn queue_lines_become_array_elements() {
        let queue = parse_queue("12 0 RUNNING\n12 3 PENDING\n9 N/A RUNNING\n\ngarbage\n");
        let expected: HashSet<ArrayElement> = [0, 3]
            .into_iter()
            .map(|element| ArrayElement {
                job: "12".into(),
                element,
            })
            .collect();
        assert_eq!(queue, expected);
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote(OsStr::new("/a b/wfrun")), "'/a b/wfrun'");
        assert_eq!(shell_quote(OsStr::new("it's")), "'it'\\''s'");
    }
}
