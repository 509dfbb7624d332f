//! One module per parser of outside input: its seed corpus, its grammar, its tokens, and how
//! an input is run through it (returning the outcome as text).

mod config;
mod exposition;
mod gen;
mod k6_json;
mod prometheus;
mod promql;
mod recording;
mod valkey;

use std::path::Path;

use crate::rng::Rng;

pub struct Target {
    pub name: &'static str,
    /// The seed corpus, from the repository's fixtures.
    pub seeds: fn(&Path) -> Vec<Vec<u8>>,
    /// A structured input from the format's grammar (it may draw on the seeds).
    pub generate: fn(&mut Rng, &[Vec<u8>]) -> Vec<u8>,
    /// Tokens of the format, inserted by mutations.
    pub tokens: &'static [&'static [u8]],
    /// The longest input tried (at most `mutate::MAX_LEN`): as long as the format's real inputs
    /// get, and a little more.
    pub max_len: usize,
    /// Runs one input; the outcome names the path taken (Ok, or the error).
    pub run: fn(&[u8]) -> String,
}

pub fn all() -> &'static [Target] {
    &[
        exposition::TARGET,
        promql::TARGET,
        config::TARGET,
        recording::TARGET,
        k6_json::TARGET,
        prometheus::TARGET,
        valkey::TARGET,
    ]
}
