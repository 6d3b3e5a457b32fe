//! How pattern-guard ends: the exit codes (part of the interface, as GNU `timeout` defines them,
//! plus block) and [`Failure`], everything that ends in 125.
//!
//! | code | meaning |
//! |---|---|
//! | the child's own | the command ran and exited |
//! | 128 + N | the child died of signal N (not sent by the guard) |
//! | 75 | blocked: the command was not run (EX_TEMPFAIL; `--block-exit-code`) |
//! | 124 | the guard stopped a runaway child with SIGTERM |
//! | 137 | the guard had to SIGKILL the child after the grace period |
//! | 125 | pattern-guard itself failed: bad flags, bad config, unusable state |
//! | 126 / 127 | the command exists but cannot be run / was not found |

/// Everything that makes pattern-guard itself fail (exit 125).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Config(#[from] pattern_guard::Error),
    #[error("{0}")]
    State(#[from] super::state::StateError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why pattern-guard exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// pattern-guard did what was asked (subcommands, help).
    Success,
    /// The child exited with this code.
    Child(u8),
    /// The child died of this signal, not sent by the guard.
    ChildSignal(i32),
    /// Blocked: the command was not run.
    Blocked(u8),
    /// The guard stopped a runaway child with SIGTERM.
    Stopped,
    /// The guard had to SIGKILL the child.
    Killed,
    /// pattern-guard itself failed.
    Failure,
    /// The command exists but cannot be run.
    CannotRun,
    /// The command was not found.
    NotFound,
    /// pattern-guard was ended by this signal before the command ran.
    Interrupted(i32),
    /// `check`: the decision's own status.
    Decision(u8),
}

/// The exit code for a block, unless `--block-exit-code` says otherwise.
pub const BLOCKED: u8 = 75;
/// `check`'s status for warn.
pub const CHECK_WARN: u8 = 10;
/// `check`'s status for delay.
pub const CHECK_DELAY: u8 = 11;

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Child(c) | Exit::Blocked(c) | Exit::Decision(c) => c,
            Exit::ChildSignal(n) | Exit::Interrupted(n) => {
                u8::try_from(128 + n.clamp(1, 127)).unwrap_or(255)
            }
            Exit::Stopped => 124,
            Exit::Killed => 137,
            Exit::Failure => 125,
            Exit::CannotRun => 126,
            Exit::NotFound => 127,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_gnu_timeout_plus_block() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Child(3).code(), 3);
        assert_eq!(Exit::ChildSignal(15).code(), 143);
        assert_eq!(Exit::Interrupted(2).code(), 130);
        assert_eq!(Exit::Blocked(BLOCKED).code(), 75);
        assert_eq!(Exit::Stopped.code(), 124);
        assert_eq!(Exit::Killed.code(), 137);
        assert_eq!(Exit::Failure.code(), 125);
        assert_eq!(Exit::CannotRun.code(), 126);
        assert_eq!(Exit::NotFound.code(), 127);
    }
}
