//! The one place where the outcome of a command becomes an exit code: 0 ok; 1 a source failed
//! (`check`) or the run failed; 2 bad configuration, flags or input; 3 a gate failed (after
//! every local file was written).

use std::process::ExitCode;

/// Exit code when a gate fails.
pub const EXIT_GATE_FAILED: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad configuration, flags or input: nothing was started.
    #[error("{what}: {error:#}")]
    Usage {
        what: &'static str,
        error: anyhow::Error,
    },
    /// The run could not start or failed on the way.
    #[error("{what}: {error:#}")]
    Run {
        what: &'static str,
        error: anyhow::Error,
    },
    /// `check` found a required source failing; its lines say which.
    #[error("a source failed its check")]
    CheckFailed,
    /// Gates failed; every local file was written first.
    #[error("{}", failed.iter().map(|f| format!("{what}: {f}")).collect::<Vec<_>>().join("\n"))]
    Gates {
        what: &'static str,
        failed: Vec<String>,
    },
}

impl Failure {
    pub fn usage(what: &'static str, error: impl Into<anyhow::Error>) -> Self {
        Failure::Usage {
            what,
            error: error.into(),
        }
    }

    pub fn run(what: &'static str, error: impl Into<anyhow::Error>) -> Self {
        Failure::Run {
            what,
            error: error.into(),
        }
    }

    pub fn code(&self) -> u8 {
        match self {
            Failure::Run { .. } | Failure::CheckFailed => 1,
            Failure::Usage { .. } => 2,
            Failure::Gates { .. } => EXIT_GATE_FAILED,
        }
    }
}

/// Prints the failure (when it has words of its own) and returns its exit code.
pub fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !matches!(f, Failure::CheckFailed) {
                eprintln!("{}", crate::text::redact_text(&f.to_string()));
            }
            ExitCode::from(f.code())
        }
    }
}

/// A finished run's gates as the command's result.
pub fn gates(what: &'static str, outcome: &crate::report::Outcome) -> Result<(), Failure> {
    let failed = outcome.failed_gates();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Gates { what, failed })
    }
}
