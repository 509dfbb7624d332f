//! slitop: watch an HTTP load test's saturation sequence live.
//!
//! Data flows one way: sources → store → signals → detector → ui/report.

pub mod model;
pub mod sources;
pub mod store;
pub mod secret;
pub mod text;
pub mod signals;
