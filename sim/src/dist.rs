//! Random draws on the simulator's one seeded generator (ChaCha8), without
//! extra crates: uniform, Bernoulli, normal (Box–Muller), log-normal,
//! exponential, weighted choice. Every draw consumes a fixed number of words
//! so the stream is identical across platforms.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

/// The simulator's random source.
#[derive(Debug, Clone)]
pub struct Dice {
    rng: ChaCha8Rng,
}

impl Dice {
    /// A generator for `seed`, with an independent `stream` (0 = world, 1 = time loop, ...).
    pub fn new(seed: u64, stream: u64) -> Dice {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Dice { rng }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // 53 random bits.
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `[lo, hi]` (inclusive); `lo` if `hi < lo`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo + 1) as u64;
        lo + (self.rng.next_u64() % span) as i64
    }

    /// Uniform index in `[0, n)`; 0 if `n == 0`.
    pub fn index(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.rng.next_u64() % n as u64) as usize
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box–Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Log-normal with the given median and log-space sigma.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).max(1e-12).ln()
    }

    /// An index drawn with probability proportional to `weights` (all >= 0).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return self.index(weights.len());
        }
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// 10 random bytes (for deterministic UUIDv7 ids).
    pub fn bytes10(&mut self) -> [u8; 10] {
        let mut b = [0u8; 10];
        self.rng.fill(&mut b[..]);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let mut a = Dice::new(7, 1);
        let mut b = Dice::new(7, 1);
        let mut c = Dice::new(7, 2);
        let va: Vec<f64> = (0..5).map(|_| a.unit()).collect();
        let vb: Vec<f64> = (0..5).map(|_| b.unit()).collect();
        let vc: Vec<f64> = (0..5).map(|_| c.unit()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn draws_have_the_right_shape() {
        let mut d = Dice::new(1, 0);
        let n = 20_000;
        let mean_exp: f64 = (0..n).map(|_| d.exp(3.0)).sum::<f64>() / n as f64;
        assert!((mean_exp - 3.0).abs() < 0.15, "exp mean {mean_exp}");
        let hits = (0..n).filter(|_| d.chance(0.3)).count() as f64 / n as f64;
        assert!((hits - 0.3).abs() < 0.02, "chance {hits}");
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[d.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > 2 * counts[0]);
        for _ in 0..1000 {
            let x = d.int(3, 5);
            assert!((3..=5).contains(&x));
        }
    }
}
