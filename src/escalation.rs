//! Escalation: actors that keep misbehaving climb faster and wait longer.
//!
//! Each non-allow decision (warn, delay or block) is a strike. Every `escalation_strikes` strikes
//! raise the actor one level, up to `escalation_max_level`. At level `L`:
//! - a risk already at or above `allow_below` is raised by `L * escalation_step` (so warn becomes
//!   delay, delay becomes block, sooner); a risk below `allow_below` is left alone: escalation
//!   amplifies misbehaviour, it never punishes a clean event;
//! - the delay is `delay_secs * escalation_delay_factor ^ L`, at most `delay_max_secs`.
//!
//! Every full `escalation_cooldown_secs` without a strike lowers the level by one. A strike counts
//! toward the level from the next event on: the event that draws it is decided at the level before.

use crate::policy::Policy;

/// One actor's escalation state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Escalation {
    pub strikes: u32,
    /// Engine time of the last strike, or of the last cool-down step.
    pub since: u64,
}

impl Escalation {
    fn per_level(policy: &Policy) -> u32 {
        policy.strikes_per_level
    }

    fn max_strikes(policy: &Policy) -> u32 {
        policy.max_strikes
    }

    /// Applies the cool-down periods completed by `now`.
    pub fn cool_down(&mut self, now: u64, policy: &Policy) {
        if self.strikes == 0 || now <= self.since {
            return;
        }
        let periods = (now - self.since) / policy.cooldown_ns;
        if periods == 0 {
            return;
        }
        let lowered = u64::from(Self::per_level(policy)).saturating_mul(periods);
        self.strikes = u32::try_from(u64::from(self.strikes).saturating_sub(lowered)).unwrap_or(0);
        self.since = self
            .since
            .saturating_add(periods.saturating_mul(policy.cooldown_ns));
    }

    /// The current level.
    pub fn level(&self, policy: &Policy) -> u8 {
        let level = self.strikes.min(Self::max_strikes(policy)) / Self::per_level(policy);
        u8::try_from(level).unwrap_or(u8::MAX)
    }

    /// Records a strike at `now`.
    pub fn strike(&mut self, now: u64, policy: &Policy) {
        self.strikes = (self.strikes + 1).min(Self::max_strikes(policy));
        self.since = now;
    }

    /// Whether the actor has nothing left to cool down from at `now`.
    pub fn is_cold_at(&self, now: u64, policy: &Policy) -> bool {
        let mut probe = *self;
        probe.cool_down(now, policy);
        probe.strikes == 0
    }

    /// `risk`, raised for the level when it is at or above `allow_below`.
    pub fn raise(risk: f64, level: u8, policy: &Policy) -> f64 {
        if level == 0 || risk < policy.allow_below {
            risk
        } else {
            (risk + f64::from(level) * policy.escalation_step).min(1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    const SEC: u64 = 1_000_000_000;

    fn policy() -> Policy {
        Policy::new(Settings {
            escalation_strikes: 2,
            escalation_max_level: 2,
            escalation_cooldown_secs: 60.0,
            escalation_step: 0.2,
            ..Settings::default()
        })
    }

    #[test]
    fn strikes_raise_levels_up_to_the_max() {
        let p = policy();
        let mut e = Escalation::default();
        let mut levels = vec![];
        for t in 0..6 {
            e.strike(t * SEC, &p);
            levels.push(e.level(&p));
        }
        assert_eq!(levels, [0, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn each_quiet_cooldown_lowers_one_level() {
        let p = policy();
        let mut e = Escalation::default();
        for _ in 0..4 {
            e.strike(100 * SEC, &p);
        }
        assert_eq!(e.level(&p), 2);
        e.cool_down(159 * SEC, &p);
        assert_eq!(e.level(&p), 2, "not a full period yet");
        e.cool_down(160 * SEC, &p);
        assert_eq!(e.level(&p), 1);
        assert!(!e.is_cold_at(219 * SEC, &p));
        assert!(e.is_cold_at(220 * SEC, &p));
        e.cool_down(1000 * SEC, &p);
        assert_eq!(e.strikes, 0);
    }

    #[test]
    fn raise_leaves_clean_risks_alone() {
        let p = policy();
        assert_eq!(Escalation::raise(0.1, 2, &p), 0.1);
        assert!((Escalation::raise(0.35, 1, &p) - 0.55).abs() < 1e-12);
        assert_eq!(Escalation::raise(0.9, 2, &p), 1.0);
        assert_eq!(Escalation::raise(0.5, 0, &p), 0.5);
    }

    #[test]
    fn max_level_zero_turns_escalation_off() {
        let p = Policy::new(Settings {
            escalation_max_level: 0,
            ..Settings::default()
        });
        let mut e = Escalation::default();
        for t in 0..10 {
            e.strike(t, &p);
        }
        assert_eq!(e.level(&p), 0);
    }
}
