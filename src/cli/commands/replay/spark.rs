//! An actor's risk over its activity, in 24 marks: what replay's report draws for each top actor.

/// Marks in a risk sparkline.
const BUCKETS: usize = 24;
const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The maximum risk per time bucket over an actor's activity. Buckets start one second wide
/// and double (merging pairs) whenever an event falls past the last one, so 24 numbers cover any
/// span.
#[derive(Clone)]
#[repr(C)]
pub struct Spark {
    pub(super) start: u64,
    /// Nanoseconds per mark.
    pub(super) width: u64,
    max: [f32; BUCKETS],
}

impl Default for Spark {
    fn default() -> Self {
        Spark {
            start: 0,
            width: 0,
            max: [-1.0; BUCKETS],
        }
    }
}

impl Spark {
    /// Reads the lines [`Self::add`] reads, changing nothing.
    pub(super) fn warm(&self) -> f32 {
        self.max[0] + self.max[BUCKETS - 1] + self.width as f32
    }

    pub(super) fn add(&mut self, ts: u64, risk: f64) {
        if self.width == 0 {
            self.start = ts;
            self.width = 1_000_000_000;
        }
        let offset = ts.saturating_sub(self.start);
        while offset / self.width >= BUCKETS as u64 {
            for i in 0..BUCKETS / 2 {
                self.max[i] = self.max[2 * i].max(self.max[2 * i + 1]);
            }
            self.max[BUCKETS / 2..].fill(-1.0);
            self.width = self.width.saturating_mul(2);
        }
        let b = (offset / self.width) as usize;
        self.max[b] = self.max[b].max(risk as f32);
    }

    /// Buckets up to the last with an event: `None` where the actor was quiet.
    pub(super) fn buckets(&self) -> Vec<Option<f32>> {
        let last = self
            .max
            .iter()
            .rposition(|&m| m >= 0.0)
            .map_or(0, |i| i + 1);
        self.max[..last]
            .iter()
            .map(|&m| (m >= 0.0).then_some(m))
            .collect()
    }

    /// One mark per bucket: ▁ (risk 0) to █ (risk 1); a space where the actor was quiet.
    pub fn render(&self) -> String {
        self.buckets()
            .iter()
            .map(|b| match b {
                None => ' ',
                Some(r) => SPARKS[((r * 8.0) as usize).min(7)],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_doubles_its_step_to_cover_any_span() {
        let mut s = Spark::default();
        let t0 = 1_000_000_000_000;
        s.add(t0, 0.0);
        s.add(t0 + 5_000_000_000, 0.5);
        assert_eq!(s.render(), "▁    ▅");
        s.add(t0 + 3_600_000_000_000, 1.0);
        assert!(s.width >= 3600 * 1_000_000_000 / BUCKETS as u64);
        let r = s.render();
        assert!(
            r.starts_with('▅'),
            "{r}: the first two events share a mark, max kept"
        );
        assert!(r.ends_with('█'), "{r}");
        assert!(r.chars().count() <= BUCKETS);
    }
}
