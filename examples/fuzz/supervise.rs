//! The parent's side: runs a target in a child process, so an input that aborts the process
//! (a stack overflow cannot be caught) is found, written out and counted, and the run goes on
//! past it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::driver::{make_input, save, Args, Report, CHECKPOINT};
use crate::targets::Target;

/// What one child reported before it ended.
#[derive(Default)]
struct Child {
    last_at: Option<u64>,
    done: bool,
    hang: Option<u64>,
    stderr_tail: String,
}

pub fn run(t: &'static Target, args: &Args) -> Report {
    let seeds = (t.seeds)(&crate::corpus::root());
    eprintln!(
        "{}: {} seed inputs, {} inputs to run",
        t.name,
        seeds.len(),
        args.inputs
    );
    let clock = Instant::now();
    let mut report = Report {
        target: t.name,
        inputs: 0,
        outcomes: 0,
        panics: 0,
        slowest: Duration::ZERO,
        slowest_index: 0,
        wall: Duration::ZERO,
    };
    let mut outcomes = HashSet::new();
    let end = args.from + args.inputs;
    let mut from = args.from;
    while from < end {
        let c = spawn(t, args, from, end - from, false, &mut report, &mut outcomes);
        if c.done {
            break;
        }
        // Aborted or hung: find the input, count it, go on after it.
        let culprit = match c.hang {
            Some(i) => i,
            None => {
                let start = c.last_at.unwrap_or(from);
                let window = (CHECKPOINT + 1).min(end - start);
                let traced = spawn(t, args, start, window, true, &mut report, &mut outcomes);
                if traced.done {
                    // It did not abort again: a crash that depends on more than its input.
                    eprintln!(
                        "{}: a child died near input {start} and the input did not do it again",
                        t.name
                    );
                    from = start + window;
                    continue;
                }
                let i = traced.last_at.unwrap_or(start);
                let input = make_input(t, &seeds, args.seed, i);
                let file = save(t.name, i, &input, &c.stderr_tail);
                eprintln!(
                    "{}: input {i} aborts the process; written to {}",
                    t.name,
                    file.display()
                );
                outcomes.insert(format!("abort: {}", crate::driver::shape(&c.stderr_tail)));
                i
            }
        };
        report.panics += 1;
        from = culprit + 1;
    }
    report.inputs = args.inputs;
    report.outcomes = outcomes.len();
    report.wall = clock.elapsed();
    report
}

/// Runs one child over `n` inputs from `from`, folding what it reports into the report.
fn spawn(
    t: &Target,
    args: &Args,
    from: u64,
    n: u64,
    trace: bool,
    report: &mut Report,
    outcomes: &mut HashSet<String>,
) -> Child {
    let exe = std::env::current_exe().expect("the harness's own path");
    let mut cmd = Command::new(exe);
    cmd.args([
        t.name,
        "--child",
        "--from",
        &from.to_string(),
        "--inputs",
        &n.to_string(),
    ])
    .args(["--seed", &args.seed.to_string()])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if trace {
        cmd.arg("--trace");
    }
    let mut proc = cmd.spawn().expect("start the fuzzing child");
    let stderr = BufReader::new(proc.stderr.take().expect("piped"));
    // Its stderr is passed on as it comes, and its end kept: an abort says why there.
    let tail = std::thread::spawn(move || {
        let mut last = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            eprintln!("{line}");
            last = line;
        }
        last
    });
    let mut c = Child::default();
    let start = Instant::now();
    for line in BufReader::new(proc.stdout.take().expect("piped")).lines() {
        let line = line.expect("read the child's report");
        let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let num = || rest.parse::<u64>().unwrap_or(0);
        match word {
            "at" => c.last_at = Some(num()),
            "outcome" => {
                outcomes.insert(rest.to_string());
            }
            "panic" => report.panics += 1,
            "slow" => {
                let (ns, i) = rest.split_once(' ').unwrap_or(("0", "0"));
                let took = Duration::from_nanos(ns.parse().unwrap_or(0));
                if took > report.slowest {
                    report.slowest = took;
                    report.slowest_index = i.parse().unwrap_or(0);
                }
            }
            "hang" => c.hang = Some(num()),
            "done" => c.done = true,
            _ => {}
        }
        if !trace
            && word == "at"
            && c.last_at
                .is_some_and(|i| (i - from) % (CHECKPOINT * 256) == 0 && i > from)
        {
            let done = c.last_at.unwrap_or(from) - from;
            let rate = done as f64 / start.elapsed().as_secs_f64();
            eprintln!(
                "{}: at input {}, {} outcomes, {} panics, {rate:.0}/s",
                t.name,
                done + from,
                outcomes.len(),
                report.panics
            );
        }
    }
    let _ = proc.wait();
    c.stderr_tail = tail.join().unwrap_or_default();
    c
}
