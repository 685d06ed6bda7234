//! What a recording says about itself: `recording.toml` next to `driving_log.csv`.
//!
//! ```toml
//! source = "pilot sim record, seeds 100..109, 9.0 m/s"
//! side_correction = 0.235   # steering added for the left camera, subtracted for the right
//! smooth_steering = 1       # rows averaged per label (1: as recorded; e.g. 5 for keyboard taps)
//! ```
//!
//! `pilot sim record` writes one (its side cameras' correction follows from their offset and the
//! speed); write one by hand for any other recording. Settings a recording does not give come
//! from the command line (`--side-correction`, `--smooth-steering`), so recordings made in
//! different ways can be trained on together, each with its own correction.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::fsutil::atomic_write;

pub const INFO_FILE: &str = "recording.toml";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingInfo {
    /// Where the recording came from (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Steering added for the left camera's image and subtracted for the right one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_correction: Option<f32>,
    /// Each label becomes the mean of this many rows centred on it (odd, 1 = as recorded):
    /// keyboard-driven recordings steer in short taps, which no camera frame can predict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smooth_steering: Option<usize>,
}

impl RecordingInfo {
    /// The recording's `recording.toml`, if it has one.
    pub fn read(dir: &Path) -> Result<Option<RecordingInfo>> {
        let path = dir.join(INFO_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let info: RecordingInfo = toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        if let Some(c) = info.side_correction {
            ensure!(c.is_finite() && (0.0..=1.0).contains(&c), "{}: side_correction {c} is not in [0, 1]", path.display());
        }
        if let Some(n) = info.smooth_steering {
            ensure!(n % 2 == 1, "{}: smooth_steering must be odd (a window centred on the row), not {n}", path.display());
        }
        Ok(Some(info))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        atomic_write(&dir.join(INFO_FILE), toml::to_string_pretty(self)?.as_bytes())
    }
}

/// Replaces each value by the mean of the `window` values centred on it (fewer at the ends).
pub fn smooth(values: &mut [f32], window: usize) {
    let half = window / 2;
    if half == 0 || values.is_empty() {
        return;
    }
    let original = values.to_vec();
    for (i, v) in values.iter_mut().enumerate() {
        let span = &original[i.saturating_sub(half)..(i + half + 1).min(original.len())];
        *v = span.iter().sum::<f32>() / span.len() as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_a_centred_mean() {
        let mut v = [0.0, 0.0, 0.3, 0.0, 0.0, 0.6];
        smooth(&mut v, 3);
        let want = [0.0, 0.1, 0.1, 0.1, 0.2, 0.3];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
        let mut same = [0.5, -0.5];
        smooth(&mut same, 1);
        assert_eq!(same, [0.5, -0.5]);
    }

    #[test]
    fn reads_writes_and_rejects() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RecordingInfo::read(dir.path()).unwrap(), None);
        let info = RecordingInfo { source: Some("test".into()), side_correction: Some(0.235), smooth_steering: Some(5) };
        info.write(dir.path()).unwrap();
        assert_eq!(RecordingInfo::read(dir.path()).unwrap(), Some(info));
        for bad in ["side_correction = 2.0", "smooth_steering = 4", "speed = 3", "side_correction = \"x\""] {
            std::fs::write(dir.path().join(INFO_FILE), bad).unwrap();
            let err = format!("{:#}", RecordingInfo::read(dir.path()).unwrap_err());
            assert!(err.contains("recording.toml"), "{bad}: {err}");
        }
    }
}
