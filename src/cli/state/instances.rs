//! Running instances: which wrappers of an actor's job are running now, for the overlap limit
//! (`max_concurrent`). They are saved beside the history ([`Meta`](super::meta::Meta)) and
//! checked on load, so a wrapper that crashed does not hold a slot.

use std::fs;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One running wrapper of an actor's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub pid: u32,
    /// The process's start time in clock ticks since boot (Linux `/proc/PID/stat`; 0 elsewhere),
    /// so a reused pid is not taken for a live run.
    pub start_ticks: u64,
    /// When it started, nanoseconds since the Unix epoch.
    pub since_ns: u64,
}

impl Instance {
    /// This process.
    pub fn me() -> Instance {
        let pid = std::process::id();
        Instance {
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            since_ns: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }

    /// Whether this run is still going: its process exists and is the same process.
    pub fn alive(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) | Err(nix::errno::Errno::EPERM) => {}
            Err(_) => return false,
        }
        match start_ticks(self.pid) {
            Some(now) if self.start_ticks != 0 => now == self.start_ticks,
            _ => true,
        }
    }
}

/// Field 22 of `/proc/PID/stat`: when the process started.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_or_dead_pid_is_not() {
        let me = Instance::me();
        assert!(me.alive());
        if me.start_ticks != 0 {
            let reused = Instance {
                start_ticks: me.start_ticks + 1,
                ..me.clone()
            };
            assert!(!reused.alive(), "same pid, another start time: not our run");
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let gone = Instance {
            pid,
            start_ticks: 0,
            since_ns: 0,
        };
        assert!(!gone.alive());
    }
}
