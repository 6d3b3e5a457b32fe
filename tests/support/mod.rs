//! The fixture every test of the real binary uses: a temp dir of its own, with the state and
//! config dirs inside it, and the binary with a clean environment pointing at them. Test files
//! add their own helpers with `impl Fixture` blocks.

#![allow(dead_code)]

use std::path::PathBuf;

use tempfile::TempDir;

/// Variables a developer's shell may have set that would change what a test sees.
const CLEARED: [&str; 9] = [
    "PATTERN_GUARD_STORE",
    "PATTERN_GUARD_CONFIG",
    "PATTERN_GUARD_ACTOR",
    "PATTERN_GUARD_ACTION",
    "PATTERN_GUARD_TARGET",
    "PATTERN_GUARD_WEIGHT",
    "PATTERN_GUARD_BLOCK_EXIT_CODE",
    "RUST_LOG",
    "PATTERN_GUARD_WATCH_TIME_SCALE",
];

pub struct Fixture {
    pub dir: TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// Writes `bytes` to `name` in the fixture's dir.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The binary as a plain `std::process::Command` (for spawning and signalling).
    pub fn std(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pattern-guard"));
        for var in CLEARED {
            c.env_remove(var);
        }
        c.env("PATTERN_GUARD_STATE_DIR", self.state())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .current_dir(self.dir.path());
        c
    }

    /// The binary for `assert_cmd` assertions.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std())
    }
}
