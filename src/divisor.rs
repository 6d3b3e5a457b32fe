//! Division by a divisor fixed ahead of time, without a divide instruction on the hot path
//! (the baseline's bucket index of every event: see `baseline.rs`).

/// Division by a bucket length fixed when the policy is compiled, without a divide instruction
/// (tens of cycles) on the hot path: `n / d` as a multiply and a shift, exact for every `n`
/// below 2^62 (the year 2116 in nanoseconds; later times divide plainly). Granlund and
/// Montgomery's method: with `l = ceil(log2 d)` and `m = ceil(2^(62 + l) / d)`,
/// `n / d = (n * m) >> (62 + l)` for all `n < 2^62`; `m < 2^63 + 1` fits a `u64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Divisor {
    d: u64,
    m: u64,
    shift: u32,
}

impl Divisor {
    const N: u32 = 62;

    pub fn new(d: u64) -> Divisor {
        let d = d.max(1);
        let l = 64 - (d - 1).leading_zeros();
        let shift = Self::N + l;
        let m = (1u128 << shift).div_ceil(u128::from(d));
        Divisor {
            d,
            m: u64::try_from(m).unwrap_or(u64::MAX),
            shift,
        }
    }

    #[inline]
    pub fn div(self, n: u64) -> u64 {
        if n >> Self::N != 0 || self.shift >= 128 {
            return n / self.d;
        }
        ((u128::from(n) * u128::from(self.m)) >> self.shift) as u64
    }

    pub fn get(self) -> u64 {
        self.d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_divisor_divides_exactly() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let divisors = [
            1,
            2,
            3,
            7,
            1_000_000_000,
            60_000_000_000,
            86_400_000_000_000,
            (1 << 40) + 1,
            u64::MAX / 3,
            u64::MAX,
        ];
        let random: Vec<u64> = (0..400).map(|_| next() >> (next() % 64)).collect();
        for d in divisors.into_iter().chain(random[..200].iter().copied()) {
            let div = Divisor::new(d);
            let d = d.max(1);
            for n in [
                0,
                1,
                d - 1,
                d,
                d.saturating_add(1),
                (1 << 62) - 1,
                1 << 62,
                u64::MAX,
            ]
            .into_iter()
            .chain(random[200..].iter().copied())
            {
                assert_eq!(div.div(n), n / d, "{n} / {d}");
                if let Some(edge) = (n / d).checked_mul(d) {
                    assert_eq!(div.div(edge), edge / d, "{edge} / {d}");
                    if edge > 0 {
                        assert_eq!(div.div(edge - 1), (edge - 1) / d, "{} / {d}", edge - 1);
                    }
                }
            }
        }
    }
}
