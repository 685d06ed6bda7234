//! CIFAR-10 in its binary form: `data_batch_1.bin` .. `data_batch_5.bin` (training) and
//! `test_batch.bin`, each a run of 3,073-byte records: the label byte (0..=9), then the 32x32
//! red plane, the green plane and the blue plane, rows top to bottom. Class names come from
//! `batches.meta.txt` beside the batches when it is there.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// Side of a CIFAR image.
pub const SIDE: u16 = 32;
const PIXELS: usize = SIDE as usize * SIDE as usize;
const RECORD: usize = 1 + 3 * PIXELS;

/// The class names, by label, as CIFAR-10 lists them.
pub const CLASS_NAMES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Which batches to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarPart {
    /// `data_batch_1.bin` .. `data_batch_5.bin`: 50,000 images.
    Train,
    /// `test_batch.bin`: 10,000 images.
    Test,
}

/// Decoded batches: labels and RGB888 (HWC) images.
pub(crate) struct CifarSet {
    pub class_names: Vec<String>,
    pub labels: Vec<u8>,
    rgb: Vec<u8>,
}

impl CifarSet {
    /// Image `i`, 32x32 RGB888.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.rgb[i * 3 * PIXELS..(i + 1) * 3 * PIXELS]
    }
}

pub(crate) fn read(dir: &Path, part: CifarPart) -> Result<CifarSet> {
    let names: Vec<String> = match part {
        CifarPart::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        CifarPart::Test => vec!["test_batch.bin".to_string()],
    };
    let (mut labels, mut rgb) = (Vec::new(), Vec::new());
    for name in names {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read CIFAR-10 batch {}", path.display()))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            bail!("{}: {} bytes is not a whole number of {RECORD}-byte records", path.display(), bytes.len());
        }
        for (n, record) in bytes.chunks_exact(RECORD).enumerate() {
            let label = record[0];
            if label as usize >= CLASS_NAMES.len() {
                bail!("{}: record {n} (byte {}): label {label} is not 0..=9", path.display(), n * RECORD);
            }
            labels.push(label);
            let planes = &record[1..];
            for p in 0..PIXELS {
                rgb.extend_from_slice(&[planes[p], planes[PIXELS + p], planes[2 * PIXELS + p]]);
            }
        }
    }
    Ok(CifarSet { class_names: class_names(dir)?, labels, rgb })
}

/// Names from `batches.meta.txt` (one per line) if present, else the standard ones.
fn class_names(dir: &Path) -> Result<Vec<String>> {
    let meta = dir.join("batches.meta.txt");
    if !meta.is_file() {
        return Ok(CLASS_NAMES.iter().map(|s| s.to_string()).collect());
    }
    let text = std::fs::read_to_string(&meta).with_context(|| format!("cannot read {}", meta.display()))?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != CLASS_NAMES.len() {
        bail!("{}: {} class names, CIFAR-10 has 10", meta.display(), names.len());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ClassificationData, ClassificationOptions, Examples, Rng};

    /// A record whose pixel `p` is `(p, 2p, 3p)` (mod 256) plus `label`.
    fn record(label: u8) -> Vec<u8> {
        let mut r = vec![label];
        for c in 1..=3 {
            r.extend((0..PIXELS).map(|p| (p * c) as u8 ^ label));
        }
        r
    }

    fn opts() -> ClassificationOptions {
        ClassificationOptions { progress: false, ..ClassificationOptions::new(crate::zoo::sign_input()) }
    }

    #[test]
    fn planes_become_hwc_pixels() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 1..=5u8 {
            std::fs::write(tmp.path().join(format!("data_batch_{i}.bin")), [record(i), record(9 - i)].concat()).unwrap();
        }
        std::fs::write(tmp.path().join("test_batch.bin"), record(0)).unwrap();
        let data = ClassificationData::cifar10(tmp.path(), CifarPart::Train, &opts()).unwrap();
        assert_eq!(data.len(), 10);
        assert_eq!(data.labels()[..4], [1, 8, 2, 7]);
        assert_eq!(data.class_names()[8], "ship");
        let p = 33;
        assert_eq!(data.frame(3)[3 * p..3 * p + 3], [p as u8 ^ 7, (2 * p) as u8 ^ 7, (3 * p) as u8 ^ 7]);
        let mut out = vec![0i8; 32 * 32 * 3];
        assert_eq!(data.example(3, &mut Rng::new(0), false, &mut out), 7);
        assert_eq!(out[3 * p], ((p as u8 ^ 7) as i16 - 128) as i8);
        let test = ClassificationData::cifar10(tmp.path(), CifarPart::Test, &opts()).unwrap();
        assert_eq!(test.labels(), [0]);
    }

    #[test]
    fn broken_batches_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let err = ClassificationData::cifar10(tmp.path(), CifarPart::Test, &opts()).err().unwrap().to_string();
        assert!(err.contains("test_batch.bin"), "{err}");
        std::fs::write(tmp.path().join("test_batch.bin"), &record(0)[..100]).unwrap();
        let err = ClassificationData::cifar10(tmp.path(), CifarPart::Test, &opts()).err().unwrap().to_string();
        assert!(err.contains("100 bytes is not a whole number of 3073-byte records"), "{err}");
        std::fs::write(tmp.path().join("test_batch.bin"), [record(0), record(12)].concat()).unwrap();
        let err = ClassificationData::cifar10(tmp.path(), CifarPart::Test, &opts()).err().unwrap().to_string();
        assert!(err.contains("record 1 (byte 3073): label 12"), "{err}");
        std::fs::write(tmp.path().join("test_batch.bin"), record(0)).unwrap();
        std::fs::write(tmp.path().join("batches.meta.txt"), "a\nb\n").unwrap();
        let err = ClassificationData::cifar10(tmp.path(), CifarPart::Test, &opts()).err().unwrap().to_string();
        assert!(err.contains("2 class names"), "{err}");
    }
}
