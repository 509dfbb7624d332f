//! The fuzzing harness (`examples/fuzz`) kept from rotting: every target runs a short stretch
//! of its inputs here, in process, through the same generators, mutations and parsers, and
//! must neither panic nor stop reaching its parser's paths (each target's structured inputs
//! must get through to an `ok` outcome and produce a spread of distinct errors).

#[path = "../examples/fuzz/corpus.rs"]
mod corpus;
// The command line, the child protocol and the findings files are the example's alone.
#[allow(dead_code)]
#[path = "../examples/fuzz/driver.rs"]
mod driver;
#[path = "../examples/fuzz/mutate.rs"]
mod mutate;
#[allow(dead_code)]
#[path = "../examples/fuzz/rng.rs"]
mod rng;
#[path = "../examples/fuzz/targets/mod.rs"]
mod targets;

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Inputs per target: enough for every kind of input and mutation to come up many times.
const INPUTS: u64 = 20_000;

#[test]
fn every_target_runs_its_inputs_without_a_panic_and_reaches_its_parser() {
    let started = Instant::now();
    // On a thread with a runtime worker's stack, as the harness and slitop run the parsers.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for t in targets::all() {
                run_target(t);
            }
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the short fuzzing run took {:?}",
        started.elapsed()
    );
}

fn run_target(t: &targets::Target) {
    let seeds = (t.seeds)(&corpus::root());
    assert!(
        seeds.len() >= 5,
        "{}: only {} seed inputs",
        t.name,
        seeds.len()
    );
    let mut outcomes = HashSet::new();
    let mut oks = 0;
    for i in 0..INPUTS {
        let input = driver::make_input(t, &seeds, 1, i);
        assert!(
            input.len() <= mutate::MAX_LEN,
            "{}: input {i} too long",
            t.name
        );
        let outcome = (t.run)(&input);
        oks += usize::from(outcome.starts_with("ok") || outcome.starts_with("points"));
        outcomes.insert(driver::shape(&outcome));
    }
    println!("{}: {} distinct outcomes, {oks} ok", t.name, outcomes.len());
    assert!(outcomes.len() >= 10, "{}: only {:?}", t.name, outcomes);
    // The k6 and Valkey outcomes name what was read rather than saying `ok`.
    if !matches!(t.name, "k6-json" | "valkey") {
        assert!(oks > 0, "{}: no input parsed: {outcomes:?}", t.name);
    }
}

#[test]
fn an_outcome_keeps_its_words_and_loses_its_numbers_and_quoted_text() {
    assert_eq!(
        driver::shape(r#"err fuzz.toml:12:3: field `refresh`: "1e4x\"s" is not a duration"#),
        "err fuzz.toml:#:#: field `refresh`: \"…\" is not a duration"
    );
}
