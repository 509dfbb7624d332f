//! slitop: watch an HTTP load test's saturation sequence live.
//!
//! Data flows one way: sources → store → signals → detector → ui/report.

pub mod backoff;
pub mod check;
pub mod cli;
pub mod demo;
pub mod detect;
pub mod engine;
pub mod export;
pub mod exposition;
pub mod model;
pub mod promql;
pub mod record;
pub mod report;
pub mod run;
pub mod secret;
pub mod settings;
pub mod sources;
pub mod state;
pub mod stats;
pub mod store;
pub mod text;
pub mod ui;
