//! Balancing the steering distribution per epoch.
//!
//! About 70 % of a real recording's rows have a steering of exactly 0 (the keyboard or mouse
//! was not touched). Trained on that, a network learns to go straight and under-steers in
//! curves. Each epoch keeps every row that steers, and each near-straight row (`|steering| <
//! straight_below`) with probability `keep_straight`, drawn afresh per epoch so that over the
//! epochs every straight frame is still seen. Validation is never balanced: it measures the
//! error on driving as recorded.

use crate::data::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct Balance {
    /// Rows with `|steering|` below this count as straight.
    pub straight_below: f32,
    /// Probability that a straight row is in a given epoch (1 keeps all: no balancing).
    pub keep_straight: f32,
}

impl Default for Balance {
    /// Keeps a quarter of the straight rows: on the Udacity track-1 recording the epoch is then
    /// about 37 % straight rows instead of 70 %, before side cameras and shifts (which turn
    /// straight rows into steering ones) dilute them further.
    fn default() -> Self {
        Balance { straight_below: 0.01, keep_straight: 0.25 }
    }
}

impl Balance {
    /// One epoch's rows in random order: `rows` (e.g. the training split) thinned as above,
    /// `steering(i)` being row `i`'s recorded steering.
    pub fn epoch(&self, rows: &[usize], steering: impl Fn(usize) -> f32, rng: &mut Rng) -> Vec<usize> {
        let mut epoch: Vec<usize> = rows.iter().copied().filter(|&i| steering(i).abs() >= self.straight_below || rng.chance(self.keep_straight)).collect();
        rng.shuffle(&mut epoch);
        epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_all_turns_and_a_share_of_straight_rows() {
        // 700 straight rows, 300 steering rows.
        let steering = |i: usize| if i < 700 { 0.0 } else { 0.1 + i as f32 * 1e-4 };
        let rows: Vec<usize> = (0..1000).collect();
        let b = Balance::default();
        let mut rng = Rng::new(1);
        let epoch = b.epoch(&rows, steering, &mut rng);
        assert_eq!(epoch.iter().filter(|&&i| i >= 700).count(), 300);
        let straight = epoch.iter().filter(|&&i| i < 700).count();
        assert!((130..=220).contains(&straight), "{straight}");
        assert_ne!(epoch[..10], [700, 701, 702, 703, 704, 705, 706, 707, 708, 709], "shuffled");
        let again = b.epoch(&rows, steering, &mut rng);
        assert_ne!(epoch, again, "a fresh draw each epoch");
        let all = Balance { keep_straight: 1.0, ..b }.epoch(&rows, steering, &mut rng);
        assert_eq!(all.len(), 1000);
    }
}
