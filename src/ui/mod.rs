//! The terminal dashboard: live runs and replays share one screen, driven by one event loop.

pub mod app;
pub mod chart;
pub mod format;
pub mod keys;
pub mod render;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod timeline;
