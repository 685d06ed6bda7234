//! The one seeded random number generator of the project: simulator tracks and textures, data
//! splits and augmentation, random test models.
//!
//! A generator of our own instead of `rand`'s: the same seed must give the same track, the same
//! split and the same augmented examples whatever versions of other crates are pulled in, on
//! the host and on the chip (`no_std`). [`Rng::keyed`] gives independent streams, so that a
//! batch assembled on several threads is the same however the threads are scheduled.

/// SplitMix64: one 64-bit state, statistically sound for sampling and augmentation, and fast.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a bijective 64-bit mixer.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub const fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent stream for `(seed, key)`: e.g. `key` = the position of an example in its
    /// batch, with `seed` drawn once per batch, so every example has its own reproducible draws.
    pub const fn keyed(seed: u64, key: u64) -> Self {
        Rng { state: mix(seed.wrapping_add(GOLDEN)) ^ mix(key.wrapping_mul(GOLDEN) ^ 0x5851_F42D_4C95_7F2D) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`, with 24 random bits (every value exactly representable).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// True with probability `p` (never for `p <= 0`, always for `p >= 1`).
    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for any `n` used here).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`, by multiply-shift (what sampling and augmentation draw).
    pub fn int_in(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((hi - lo) as usize + 1) as i32
    }

    /// In `lo..=hi` by the remainder of one draw (slightly biased for huge ranges; the
    /// simulator's tracks and the random test models are defined by it, so it stays).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// `n` random int8 values.
    #[cfg(feature = "alloc")]
    pub fn i8s(&mut self, n: usize) -> alloc::vec::Vec<i8> {
        (0..n).map(|_| self.i8()).collect()
    }

    /// `n` random bytes.
    #[cfg(feature = "alloc")]
    pub fn bytes(&mut self, n: usize) -> alloc::vec::Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_keys_differ() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert!((0..4).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(Rng::keyed(1, 0).next_u64(), Rng::keyed(1, 1).next_u64());
        assert_ne!(Rng::keyed(1, 0).next_u64(), Rng::keyed(2, 0).next_u64());
        // SplitMix64's published first output for seed 0.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn ranges_hold_and_cover() {
        let mut r = Rng::new(3);
        let (mut seen, mut seen_range) = ([false; 5], [false; 5]);
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            seen[(r.int_in(-2, 2) + 2) as usize] = true;
            seen_range[(r.range(-2, 2) + 2) as usize] = true;
        }
        assert!(seen.iter().chain(&seen_range).all(|&s| s));
        let mut v = [0usize; 50];
        v.iter_mut().enumerate().for_each(|(i, x)| *x = i);
        r.shuffle(&mut v);
        assert!(v.iter().enumerate().any(|(i, &x)| i != x));
        v.sort_unstable();
        assert!(v.iter().enumerate().all(|(i, &x)| i == x));
    }
}
