//! slitop: watch an HTTP load test's saturation sequence live.
//!
//! Data flows one way (docs/architecture.md is the map; tests/architecture.rs holds the code
//! to it):
//!
//! ```text
//! settings ─▶ run ─▶ sources ─▶ store ─▶ engine ─▶ detect ─▶ state
//!                                                             │
//!             ui (live screen, replay) · headless lines · record · report ─▶ export
//! ```
//!
//! Public modules are the ones the binary, the tests and the benchmarks use; the rest are
//! internal.

// The shared model and the settings: every layer may use them.
mod backoff;
pub mod model;
mod secret;
pub mod settings;
mod stats;
mod text;
pub mod tls;
pub mod usl;

// Data in: parsers, the store, the sources.
pub mod exposition;
pub mod promql;
pub mod sources;
pub mod store;

// Signals and the saturation detector.
pub mod detect;
mod engine;
pub mod state;

// What a run writes and reports.
pub mod export;
pub mod record;
pub mod report;

// Running: the lifecycle, its modes, and the command line on top.
mod check;
pub mod cli;
mod demo;
pub mod run;
pub mod ui;
