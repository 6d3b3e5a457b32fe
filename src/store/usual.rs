//! A thread's usual lane: where its recent checks have found their actors.
//!
//! A check of a known actor reads its hint to learn which lane of the shard holds it: one byte,
//! but one more cache line a check, and the first link of a chain (hint, lane lock, table,
//! slot) in which each load waits for the one before. Threads that each check their own actors
//! (a consumer per partition, a worker per connection) find them in their own lane every time,
//! so reading the hint tells them nothing: two such threads measured about a fifth slower with
//! the hint read than with it skipped (`cargo bench --bench engine -- --scaling --pairs 10`).
//!
//! So each thread keeps, in a thread-local, the lane its checks last found their actors in and a
//! streak: one more for every check that finds its actor there, sixteen fewer for every one that
//! finds it in another lane (which becomes the usual lane once the streak is spent). Once the
//! streak reaches [`TRUSTED`], the thread's checks go straight to the usual lane and read no
//! hint; a miss there falls back to the hint and the other lanes, and counts against the
//! streak. A thread also adds its new actors to its usual lane once its streak there reaches
//! [`LEANING`] (trusted or not yet), so its actors stay together whatever number it was given
//! (a pool's new threads get new numbers, and an actor forgotten and checked again is added
//! anew). Traffic whose actors come from any thread (a server's workers taking any client's
//! requests) finds its actors in the usual lane about half the time with two lanes, which spends
//! the streak at once: those checks go by the hint, as before. Trust needs more than 15 of
//! every 16 checks in one lane.
//!
//! It is a guess and only a guess: whichever lane a check tries first, a miss looks in the
//! others before an actor is added, so an actor is never in two lanes (see the store's rules).
//! The guess is per thread, not per guard: a thread whose actors sit in different lanes of two
//! guards never earns trust, and its checks read hints.

use std::cell::Cell;

/// The streak at which a thread's checks go straight to its usual lane.
pub(super) const TRUSTED: u8 = 64;

/// The streak from which a thread adds its new actors to its usual lane.
pub(super) const LEANING: u8 = 8;

/// What a miss in the usual lane takes off the streak.
const MISS: u8 = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Usual {
    lane: u8,
    streak: u8,
}

thread_local!(static USUAL: Cell<Usual> = const { Cell::new(Usual { lane: 0, streak: 0 }) });

/// The calling thread's usual lane, when its streak has earned trust.
#[inline]
pub(super) fn trusted() -> Option<usize> {
    let u = USUAL.with(Cell::get);
    (u.streak >= TRUSTED).then_some(usize::from(u.lane))
}

/// The lane where the calling thread's last few checks found their actors (a streak of at
/// least [`LEANING`]), trusted or not yet: where it adds new actors.
pub(super) fn leaning() -> Option<usize> {
    let u = USUAL.with(Cell::get);
    (u.streak >= LEANING).then_some(usize::from(u.lane))
}

/// A check that went straight to the usual lane found its actor there.
#[inline]
pub(super) fn confirmed() {
    USUAL.with(|c| {
        let u = c.get();
        if u.streak < u8::MAX {
            c.set(Usual {
                streak: u.streak + 1,
                ..u
            });
        }
    });
}

/// A check found its actor in lane `k` (of at most 8).
#[inline]
pub(super) fn found_in(k: usize) {
    USUAL.with(|c| {
        let u = c.get();
        c.set(next(u, k as u8));
    });
}

/// The usual lane after a check found its actor in `lane`.
fn next(u: Usual, lane: u8) -> Usual {
    if u.lane == lane {
        Usual {
            streak: u.streak.saturating_add(1),
            ..u
        }
    } else if u.streak > MISS {
        Usual {
            streak: u.streak - MISS,
            ..u
        }
    } else {
        Usual { lane, streak: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(finds: impl IntoIterator<Item = u8>) -> Usual {
        finds.into_iter().fold(Usual { lane: 0, streak: 0 }, next)
    }

    #[test]
    fn a_thread_that_finds_its_actors_in_one_lane_comes_to_trust_it() {
        let u = after(std::iter::repeat_n(1, usize::from(TRUSTED) + 1));
        assert_eq!(u.lane, 1);
        assert!(u.streak >= TRUSTED);
        // Saturates, never wraps back to distrust.
        assert_eq!(after(std::iter::repeat_n(1, 1_000)).streak, u8::MAX);
    }

    #[test]
    fn actors_found_in_either_lane_never_earn_trust() {
        // Two lanes taking turns, and at random (a server's workers): the streak never reaches
        // the mark, so those checks keep reading the hint.
        let mut u = Usual { lane: 0, streak: 0 };
        let mut x = 88_172_645_463_325_252u64;
        for i in 0..100_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let lane = if i < 50_000 {
                (i % 2) as u8
            } else {
                (x % 2) as u8
            };
            u = next(u, lane);
            assert!(u.streak < TRUSTED, "trusted after {i} finds");
        }
    }

    #[test]
    fn trust_needs_more_than_fifteen_of_sixteen_and_is_lost_when_actors_move() {
        // One find in 16 elsewhere: the streak holds level and, from nothing, never rises.
        let mixed = (0..10_000).map(|i| u8::from(i % 16 == 0));
        assert!(after(mixed).streak < TRUSTED);
        // One in 32 elsewhere: trusted.
        let mostly = (0..10_000).map(|i| u8::from(i % 32 == 0));
        let u = after(mostly);
        assert_eq!(u.lane, 0);
        assert!(u.streak >= TRUSTED);
        // Its actors now in lane 1: within sixteen finds there lane 1 is the usual lane, and
        // its checks go by the hints until lane 1 has earned trust in turn.
        let moved = (0..16).fold(u, |u, _| next(u, 1));
        assert_eq!(moved.lane, 1);
        assert!(moved.streak < TRUSTED);
    }

    #[test]
    fn the_thread_local_follows_the_finds() {
        std::thread::spawn(|| {
            assert_eq!(trusted(), None);
            for _ in 0..TRUSTED {
                found_in(3);
            }
            // The first find made lane 3 the usual lane, at a streak of 0.
            assert_eq!(trusted(), None);
            found_in(3);
            assert_eq!(trusted(), Some(3));
            for _ in 0..20 {
                confirmed();
            }
            found_in(2);
            assert_eq!(trusted(), Some(3), "one miss spends 16 of the streak");
            assert_eq!(leaning(), Some(3));
            for _ in 0..4 {
                found_in(2);
            }
            assert_eq!(trusted(), None);
            // Lane 3 has been spent below LEANING as well: new actors go by the thread's number.
            assert_eq!(leaning(), None);
            // A few finds in lane 1 and new actors go there, long before trust.
            for _ in 0..=LEANING {
                found_in(1);
            }
            assert_eq!((leaning(), trusted()), (Some(1), None));
        })
        .join()
        .unwrap();
    }
}
