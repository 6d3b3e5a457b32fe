//! History between invocations, behind one seam: [`History`].
//!
//! A command asks for a transaction on one actor's history ([`transact`]): under that actor's
//! exclusive lock the history is loaded into a guard, the command checks its event (and notes
//! its running instance), and what it recorded is saved. Where the history lives is the store's
//! business; the commands never know. Today's store is [`DirStore`], one state file per actor in
//! a private runtime directory; [`SharedStore`] keeps them in Redis for runs on many hosts.
//!
//! - [`history`]: the seam: the [`History`] trait, its transaction [`Txn`], [`StateError`];
//! - [`dir`]: where the directory is, its safety checks, the store of files in it;
//! - [`file`]: one actor's file: the lock, load-check-save, append or compact;
//! - [`recovery`]: files that cannot be used are set aside, never deleted, and reported;
//! - [`instances`]: the running wrappers of an actor's job (the overlap limit);
//! - [`meta`]: what a file keeps beside the history: those instances and the last configuration;
//! - [`shared`]: the shared store (Redis): the same transactions for runs on many hosts.
//!
//! The bytes of a state file are [`pattern_guard::journal`]'s layout (a snapshot, then appended
//! tails, each checksummed); [`Meta`] rides in each frame's extra bytes.
//!
//! # Safety
//! A crash at any moment leaves the old or the new state. A compaction renames a synced temp
//! file. An append is one `write`, which a killed run (or a power failure: appends are not
//! fsynced, the state lives in a runtime directory that a reboot clears anyway) can cut short;
//! a last frame cut short is a save that never finished, so the next load keeps everything before
//! it, quietly (`-v` logs it), and the next save rewrites the file without it. A frame whose bytes
//! are all there but wrong (a disk fault) is dropped with a one-line report, the rest kept, and a
//! copy of the file kept as `<name>.state.bad-<time>`. A file that cannot be read at all
//! (corrupt, truncated, a symlink, another format, too large) is renamed to
//! `<name>.state.bad-<time>`, reported, and replaced by a fresh history.

mod dir;
mod file;
mod history;
pub mod instances;
mod meta;
mod recovery;
mod shared;

pub use dir::DirStore;
pub use history::{transact, History, StateError};
pub use instances::Instance;
pub use meta::{ConfigId, LastStop, Meta};
pub use shared::SharedStore;
