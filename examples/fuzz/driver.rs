//! Runs one target: makes each input, runs it guarded, and keeps the counts.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mutate::{mutate, MAX_LEN};
use crate::rng::Rng;
use crate::targets::Target;

pub const USAGE: &str =
    "usage: fuzz TARGET|all [--inputs N] [--seed S] [--from INDEX] [--replay INDEX]";

/// How often a child says how far it got: an abort is then looked for among this many inputs.
pub const CHECKPOINT: u64 = 4096;

/// An input that runs longer than this is a hang: it is written out and the run ends.
const HANG_AFTER: Duration = Duration::from_secs(10);
/// Distinct outcomes kept; past this the count reads as "at least".
const OUTCOMES_CAP: usize = 100_000;
/// The parsers run where slitop runs them: on a thread with a worker thread's stack.
const STACK: usize = 2 * 1024 * 1024;

pub struct Args {
    pub target: String,
    pub inputs: u64,
    pub seed: u64,
    pub replay: Option<u64>,
    /// The first input's index (a child resuming after a crash starts past it).
    pub from: u64,
    /// Run as the supervised child: report on stdout (see `supervise`).
    pub child: bool,
    /// As a child, report every input before running it (to find the one that aborts).
    pub trace: bool,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, String> {
        let target = it.next().ok_or("no target given")?;
        let mut args = Args {
            target,
            inputs: 10_000_000,
            seed: 1,
            replay: None,
            from: 0,
            child: false,
            trace: false,
        };
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--child" => {
                    args.child = true;
                    continue;
                }
                "--trace" => {
                    args.trace = true;
                    continue;
                }
                _ => {}
            }
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            let number = value
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag} {value:?}: expected a whole number"))?;
            match flag.as_str() {
                "--inputs" => args.inputs = number,
                "--seed" => args.seed = number,
                "--replay" => args.replay = Some(number),
                "--from" => args.from = number,
                _ => return Err(format!("unknown option {flag:?}")),
            }
        }
        Ok(args)
    }
}

pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub outcomes: usize,
    /// Panics caught, and aborts (a stack overflow) and hangs, each found and written out.
    pub panics: u64,
    pub slowest: Duration,
    pub slowest_index: u64,
    pub wall: Duration,
}

/// Input `index` of a run: a grammar's input, a fixture mutated, or a grammar's input mutated.
pub fn make_input(t: &Target, seeds: &[Vec<u8>], seed: u64, index: u64) -> Vec<u8> {
    let mut rng = Rng::for_input(seed, index);
    let mut input = match rng.below(10) {
        0..=3 => (t.generate)(&mut rng, seeds),
        4..=8 => {
            let mut s = rng.pick_ref(seeds).clone();
            let other = rng_pick_other(&mut rng, seeds);
            mutate(&mut rng, &mut s, t.tokens, other);
            s
        }
        _ => {
            let mut s = (t.generate)(&mut rng, seeds);
            let other = rng_pick_other(&mut rng, seeds);
            mutate(&mut rng, &mut s, t.tokens, other);
            s
        }
    };
    input.truncate(t.max_len.min(MAX_LEN));
    input
}

fn rng_pick_other<'a>(rng: &mut Rng, seeds: &'a [Vec<u8>]) -> &'a [u8] {
    rng.pick_ref(seeds).as_slice()
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The child's side: runs inputs `from..from + inputs` on a thread of its own, watched for
/// hangs, and reports on stdout, line by line: `at I` (every `CHECKPOINT` inputs, or before
/// every input with `--trace`), `outcome SHAPE` (each new one), `panic I`, `slow NS I` (each
/// new slowest input), `hang I` (then it exits) and `done`.
pub fn child(t: &'static Target, args: &Args) {
    let seeds = (t.seeds)(&crate::corpus::root());
    assert!(!seeds.is_empty(), "{}: no seed inputs found", t.name);
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|p| *p.borrow_mut() = info.to_string());
    }));
    let clock = Instant::now();
    // The index being run and when it started (ns since `clock`; 0 between inputs).
    let current = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let worker = {
        let current = current.clone();
        let seeds = seeds.clone();
        let (from, n, seed, trace) = (args.from, args.inputs, args.seed, args.trace);
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(move || fuzz_loop(t, &seeds, (seed, from, n, trace), &current, clock))
            .expect("spawn the fuzzing thread")
    };
    while !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(200));
        let started = current.1.load(Ordering::Relaxed);
        let running = clock
            .elapsed()
            .saturating_sub(Duration::from_nanos(started));
        if started != 0 && running > HANG_AFTER {
            let index = current.0.load(Ordering::Relaxed);
            let input = make_input(t, &seeds, args.seed, index);
            let file = save(t.name, index, &input, "hang: still running after 10 s");
            eprintln!(
                "{}: input {index} hangs; written to {}",
                t.name,
                file.display()
            );
            println!("hang {index}");
            std::process::exit(3);
        }
    }
    worker
        .join()
        .expect("the fuzzing thread catches every panic");
}

fn fuzz_loop(
    t: &'static Target,
    seeds: &[Vec<u8>],
    (seed, from, n, trace): (u64, u64, u64, bool),
    current: &(AtomicU64, AtomicU64),
    clock: Instant,
) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut outcomes: HashSet<String> = HashSet::new();
    let mut slowest = Duration::ZERO;
    for index in from..from + n {
        let input = make_input(t, seeds, seed, index);
        if trace || (index - from) % CHECKPOINT == 0 {
            writeln!(out, "at {index}")
                .and_then(|_| out.flush())
                .expect("report to the parent");
        }
        current.0.store(index, Ordering::Relaxed);
        let start = clock.elapsed();
        current
            .1
            .store(start.as_nanos().max(1) as u64, Ordering::Relaxed);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.run)(&input)));
        let took = clock.elapsed() - start;
        current.1.store(0, Ordering::Relaxed);
        if took > slowest {
            slowest = took;
            let _ = writeln!(out, "slow {} {index}", took.as_nanos());
        }
        let shaped = match result {
            Ok(outcome) => shape(&outcome),
            Err(_) => {
                let why = LAST_PANIC.with(|p| p.borrow().clone());
                let file = save(t.name, index, &input, &why);
                eprintln!(
                    "{}: input {index} panics ({why}); written to {}",
                    t.name,
                    file.display()
                );
                let _ = writeln!(out, "panic {index}");
                format!("panic: {}", shape(&why))
            }
        };
        if outcomes.len() < OUTCOMES_CAP && !outcomes.contains(&shaped) {
            let _ = writeln!(out, "outcome {shaped}");
            outcomes.insert(shaped);
        }
    }
    writeln!(out, "done")
        .and_then(|_| out.flush())
        .expect("report to the parent");
}

/// An outcome with what varies from input to input taken out: digit runs become `#` and quoted
/// text `"…"`, so the count is of the distinct paths through the parser, not of the inputs.
pub fn shape(outcome: &str) -> String {
    let mut out = String::with_capacity(64);
    let mut chars = outcome.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"…\"");
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '0'..='9' => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            c => out.push(c),
        }
        if out.len() >= 120 {
            break;
        }
    }
    out
}

/// Writes an input (hex and escaped) and why it was kept to a file in a temp directory.
pub fn save(target: &str, index: u64, input: &[u8], why: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slitop-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the findings directory");
    let file = dir.join(format!("{target}-{index}.txt"));
    let hex: Vec<String> = input
        .chunks(32)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let text = format!(
        "target: {target}\ninput: {index}\nwhy: {why}\nlength: {}\n\nescaped:\n{}\n\nhex:\n{}\n",
        input.len(),
        input.escape_ascii(),
        hex.join("\n")
    );
    std::fs::write(&file, text).expect("write the finding");
    file
}

/// Prints one input and runs it without a guard, so a panic shows its backtrace.
pub fn replay(t: &Target, args: &Args, index: u64) {
    let seeds = (t.seeds)(&crate::corpus::root());
    let input = make_input(t, &seeds, args.seed, index);
    println!(
        "input {index} of {} (seed {}), {} bytes:",
        t.name,
        args.seed,
        input.len()
    );
    println!("{}", input.escape_ascii());
    let start = Instant::now();
    let outcome = (t.run)(&input);
    println!("outcome ({:?}): {outcome}", start.elapsed());
}

pub fn print_table(reports: &[Report]) {
    println!(
        "{:<12} {:>12} {:>9} {:>7} {:>10} {:>12} {:>10}",
        "target", "inputs", "outcomes", "panics", "slowest", "inputs/s", "wall"
    );
    for r in reports {
        let rate = r.inputs as f64 / r.wall.as_secs_f64().max(1e-9);
        let outcomes = if r.outcomes >= OUTCOMES_CAP {
            format!("≥{}", r.outcomes)
        } else {
            r.outcomes.to_string()
        };
        println!(
            "{:<12} {:>12} {:>9} {:>7} {:>8.1}ms {:>12.0} {:>9.1}s",
            r.target,
            r.inputs,
            outcomes,
            r.panics,
            r.slowest.as_secs_f64() * 1000.0,
            rate,
            r.wall.as_secs_f64()
        );
        if r.inputs > 0 {
            println!("{:<12} slowest input: --replay {}", "", r.slowest_index);
        }
    }
}
