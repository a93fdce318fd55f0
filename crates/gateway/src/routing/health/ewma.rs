//! A lock-free exponentially weighted moving average of a latency (time to first token).
//!
//! Each sample moves the average a fixed share `alpha` of the way towards itself, so after
//! `n` samples an old value's weight is `(1 - alpha)^n`. The default `alpha` of 0.2 halves a
//! sample's weight about every three samples: quick to notice a slow upstream, steady enough
//! not to chase every outlier. The first sample is taken as is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bit pattern meaning "no sample yet" (a NaN no arithmetic on finite values produces).
const EMPTY: u64 = u64::MAX;

/// The default smoothing factor.
pub const DEFAULT_ALPHA: f64 = 0.2;

/// The average, in seconds, stored as the bits of an `f64` in one atomic.
#[derive(Debug)]
pub struct Ewma {
    alpha: f64,
    bits: AtomicU64,
}

impl Default for Ewma {
    fn default() -> Self {
        Self::new(DEFAULT_ALPHA)
    }
}

impl Ewma {
    /// `alpha` is the weight of each new sample, clamped to `(0, 1]` (NaN means the default).
    pub fn new(alpha: f64) -> Self {
        let alpha = if alpha.is_nan() {
            DEFAULT_ALPHA
        } else {
            alpha.clamp(f64::MIN_POSITIVE, 1.0)
        };
        Self {
            alpha,
            bits: AtomicU64::new(EMPTY),
        }
    }

    /// The `alpha` whose samples lose half their weight after `samples` newer samples.
    pub fn alpha_for_half_life(samples: u32) -> f64 {
        1.0 - 0.5f64.powf(1.0 / f64::from(samples.max(1)))
    }

    pub fn observe(&self, sample: Duration) {
        let sample = sample.as_secs_f64();
        let alpha = self.alpha;
        // The closure always returns Some, so this cannot fail; the result carries nothing.
        let _ = self
            .bits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                let next = if bits == EMPTY {
                    sample
                } else {
                    let old = f64::from_bits(bits);
                    old + alpha * (sample - old)
                };
                Some(next.to_bits())
            });
    }

    /// The current average; `None` until the first sample.
    pub fn get(&self) -> Option<Duration> {
        let bits = self.bits.load(Ordering::Acquire);
        if bits == EMPTY {
            return None;
        }
        Duration::try_from_secs_f64(f64::from_bits(bits)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn empty_until_the_first_sample_which_is_taken_as_is() {
        let e = Ewma::default();
        assert_eq!(e.get(), None);
        e.observe(MS * 300);
        assert_eq!(e.get(), Some(MS * 300));
    }

    #[test]
    fn moves_alpha_of_the_way_towards_each_sample() {
        let e = Ewma::new(0.5);
        e.observe(MS * 100);
        e.observe(MS * 200);
        assert_eq!(e.get(), Some(MS * 150));
        e.observe(MS * 50);
        assert_eq!(e.get(), Some(MS * 100));
    }

    #[test]
    fn converges_to_a_new_level() {
        let e = Ewma::default();
        e.observe(MS * 1000);
        for _ in 0..50 {
            e.observe(MS * 100);
        }
        let got = e.get().expect("has samples");
        assert!(got >= MS * 100 && got < MS * 101, "{got:?}");
    }

    #[test]
    fn half_life_alpha() {
        let e = Ewma::new(Ewma::alpha_for_half_life(3));
        e.observe(Duration::ZERO);
        for _ in 0..3 {
            e.observe(MS * 1000);
        }
        // The initial zero keeps half its weight after three samples.
        let got = e.get().expect("has samples").as_secs_f64();
        assert!((got - 0.5).abs() < 1e-9, "{got}");
    }

    #[test]
    fn alpha_is_clamped() {
        let e = Ewma::new(7.0);
        e.observe(MS * 10);
        e.observe(MS * 20);
        assert_eq!(e.get(), Some(MS * 20));
    }
}
