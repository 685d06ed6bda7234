//! Training/validation splits that keep near-duplicates on one side.
//!
//! A random split by item would put frames of one physical sign (a GTSRB track: ~30 frames of
//! the same sign as the car approaches) or neighbouring moments of a drive on both sides, and
//! validation would measure memory instead of generalisation. So items are split by *group*:
//! GTSRB by (class, track), driving logs by contiguous blocks of rows (with a guard band of
//! training rows dropped next to each validation block), independent images one by one.
//! A split is a pure function of the groups and the seed.

use std::collections::{BTreeMap, HashSet};

use anyhow::{bail, Result};

use crate::data::Rng;

/// How to split (the `--val-split` and `--seed` of the command line).
#[derive(Clone, Debug, PartialEq)]
pub struct SplitOptions {
    /// Share of the items for validation, in `[0, 1)`.
    pub val_fraction: f32,
    pub seed: u64,
    /// Driving logs: rows per block. At the Udacity recording's ~3 rows per second, 50 rows are
    /// about 15 s of driving: longer than a curve, short enough for many blocks per lap.
    pub block_rows: usize,
    /// Driving logs: training rows this close (in rows) to a validation row of the same
    /// recording are dropped, so no training frame is a neighbour of a validation frame.
    pub guard_rows: usize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions { val_fraction: 0.2, seed: 0, block_rows: 50, guard_rows: 3 }
    }
}

/// Item indices (into the data set) for training and for validation, each ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

/// Splits items whose group is `groups[i]`: each group goes whole to one side. Groups are
/// shuffled by the seed, then taken for validation while that brings the validation share
/// closer to `val_fraction`.
pub(crate) fn by_group(groups: &[u64], opts: &SplitOptions) -> Result<Split> {
    if !(0.0..1.0).contains(&opts.val_fraction) {
        bail!("validation fraction {} is not in [0, 1)", opts.val_fraction);
    }
    let mut sizes = BTreeMap::new();
    for &g in groups {
        *sizes.entry(g).or_insert(0usize) += 1;
    }
    let mut order: Vec<(u64, usize)> = sizes.into_iter().collect();
    Rng::new(opts.seed).shuffle(&mut order);
    let target = (opts.val_fraction as f64 * groups.len() as f64).round() as usize;
    let (mut val_groups, mut val_items) = (HashSet::new(), 0usize);
    for (g, n) in order {
        if (val_items + n).abs_diff(target) < val_items.abs_diff(target) {
            val_groups.insert(g);
            val_items += n;
        }
    }
    let (val, train): (Vec<usize>, Vec<usize>) = (0..groups.len()).partition(|&i| val_groups.contains(&groups[i]));
    if train.is_empty() && !groups.is_empty() {
        bail!("a validation fraction of {} leaves no training data", opts.val_fraction);
    }
    Ok(Split { train, val })
}

/// Splits time-ordered rows (`recordings[i]` is row `i`'s recording; rows of a recording are
/// consecutive) by blocks of `block_rows`, then drops training rows within `guard_rows` of a
/// validation row of the same recording.
pub(crate) fn by_blocks(recordings: &[usize], opts: &SplitOptions) -> Result<Split> {
    let block = opts.block_rows.max(1);
    let mut groups = Vec::with_capacity(recordings.len());
    let mut start = 0;
    for (i, &r) in recordings.iter().enumerate() {
        if i > 0 && r != recordings[i - 1] {
            start = i;
        }
        groups.push(((r as u64) << 32) | ((i - start) / block) as u64);
    }
    let mut split = by_group(&groups, opts)?;
    let mut is_val = vec![false; recordings.len()];
    for &i in &split.val {
        is_val[i] = true;
    }
    let near_val = |i: usize| {
        let (lo, hi) = (i.saturating_sub(opts.guard_rows), (i + opts.guard_rows).min(recordings.len() - 1));
        (lo..=hi).any(|j| is_val[j] && recordings[j] == recordings[i])
    };
    split.train.retain(|&i| !near_val(i));
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(val_fraction: f32, seed: u64) -> SplitOptions {
        SplitOptions { val_fraction, seed, ..SplitOptions::default() }
    }

    #[test]
    fn groups_never_straddle_and_the_share_is_close() {
        // 300 items in tracks of 30 (10 groups) interleaved in storage order.
        let groups: Vec<u64> = (0..300).map(|i| (i % 10) as u64).collect();
        let s = by_group(&groups, &opts(0.2, 1)).unwrap();
        assert_eq!(s.val.len(), 60);
        assert_eq!(s.train.len() + s.val.len(), 300);
        let val_groups: HashSet<u64> = s.val.iter().map(|&i| groups[i]).collect();
        assert!(s.train.iter().all(|&i| !val_groups.contains(&groups[i])));
        assert_eq!(s, by_group(&groups, &opts(0.2, 1)).unwrap(), "deterministic");
        assert_ne!(s, by_group(&groups, &opts(0.2, 2)).unwrap(), "seeded");
    }

    #[test]
    fn single_item_groups_give_a_random_split_by_item() {
        let groups: Vec<u64> = (0..1000).collect();
        let s = by_group(&groups, &opts(0.1, 3)).unwrap();
        assert_eq!(s.val.len(), 100);
        assert!(s.val.windows(2).all(|w| w[0] < w[1]));
        assert!(s.val.iter().any(|&i| i < 500) && s.val.iter().any(|&i| i >= 500));
    }

    #[test]
    fn bad_fractions_are_refused() {
        let groups = [0u64, 1, 2];
        for f in [-0.1, 1.0, f32::NAN] {
            assert!(by_group(&groups, &opts(f, 0)).is_err(), "{f}");
        }
        assert!(by_group(&[5u64; 10], &opts(0.9, 0)).is_err(), "all in one group, fraction rounds to it");
        assert_eq!(by_group(&groups, &opts(0.0, 0)).unwrap().val, Vec::<usize>::new());
    }

    #[test]
    fn blocks_are_contiguous_per_recording_with_guard_bands() {
        // Two recordings of 230 and 170 rows.
        let recordings: Vec<usize> = (0..400).map(|i| usize::from(i >= 230)).collect();
        let o = SplitOptions { val_fraction: 0.25, seed: 4, block_rows: 50, guard_rows: 3 };
        let s = by_blocks(&recordings, &o).unwrap();
        assert!(!s.val.is_empty());
        // Validation rows form runs that start at a block boundary of their recording.
        for &i in &s.val {
            let start = if i >= 230 { 230 } else { 0 };
            let block_start = start + (i - start) / 50 * 50;
            assert!((block_start..=i).all(|j| s.val.contains(&j)), "row {i}");
        }
        for &i in &s.train {
            let close = s.val.iter().any(|&j| j.abs_diff(i) <= 3 && recordings[i] == recordings[j]);
            assert!(!close, "train row {i} is next to validation");
        }
        // At most two guard bands per validation block (9 blocks in all).
        let dropped = 400 - s.train.len() - s.val.len();
        assert!(dropped > 0 && dropped <= 2 * 3 * 9, "{dropped}");
    }
}
