//! `--record DIR`: what the server saw, as a Udacity recording that `pilot train driving
//! --data DIR` reads: `IMG/center_YYYY_MM_DD_HH_MM_SS_mmm.jpg` (the simulator's JPEG bytes,
//! untouched) and a `driving_log.csv` row per frame in the simulator's layout,
//! `center, left, right, steering, throttle, brake, speed`, with the left and right images
//! empty (the simulator sends only the centre camera), steering and throttle as sent back, brake
//! 0 and the reported speed (mph).
//!
//! A row is written and flushed after its image, so a server stopped with Ctrl-C leaves a
//! consistent log. An existing recording is never replaced unless asked.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

use crate::data::recording::{RecordingInfo, INFO_FILE};
use crate::data::udacity::{IMAGE_DIR, LOG_FILE};

pub struct Recorder {
    img_dir: PathBuf,
    csv_path: PathBuf,
    csv: BufWriter<fs::File>,
    /// Milliseconds of the last file name, so names stay unique and in order.
    last_ms: i64,
    pub rows: u64,
}

impl Recorder {
    /// Starts a recording in `dir`, which must be empty or absent; with `force` a recording
    /// already there (its `driving_log.csv`, `recording.toml` and `IMG/`) is removed first.
    /// `source` goes into `recording.toml`.
    pub fn create(dir: &Path, force: bool, source: &str) -> Result<Recorder> {
        if dir.exists() {
            ensure!(dir.is_dir(), "{} exists and is not a folder", dir.display());
            let non_empty = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?.next().is_some();
            if non_empty && !force {
                bail!("{} is not empty; pass --force to replace the recording in it (its {LOG_FILE}, {INFO_FILE} and {IMAGE_DIR}/)", dir.display());
            }
            for file in [LOG_FILE, INFO_FILE] {
                let path = dir.join(file);
                if path.exists() {
                    fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                }
            }
            let img = dir.join(IMAGE_DIR);
            if img.exists() {
                fs::remove_dir_all(&img).with_context(|| format!("cannot remove {}", img.display()))?;
            }
        }
        let img_dir = dir.join(IMAGE_DIR);
        fs::create_dir_all(&img_dir).with_context(|| format!("cannot create {}", img_dir.display()))?;
        let dir = fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
        ensure!(!dir.to_string_lossy().contains(','), "{} contains a comma, which would break the CSV", dir.display());
        // The labels are what the driver steered, one row per frame: no side cameras, no
        // smoothing.
        RecordingInfo { source: Some(source.to_string()), side_correction: None, smooth_steering: Some(1) }.write(&dir)?;
        let csv_path = dir.join(LOG_FILE);
        let csv = BufWriter::new(fs::File::create(&csv_path).with_context(|| format!("cannot create {}", csv_path.display()))?);
        Ok(Recorder { img_dir: dir.join(IMAGE_DIR), csv_path, csv, last_ms: i64::MIN, rows: 0 })
    }

    /// Writes one frame: the JPEG as received and its row. `steering` and `throttle` are the
    /// strings sent back; `speed` is the reported one. Returns the image's path.
    pub fn write(&mut self, jpeg: &[u8], steering: &str, throttle: &str, speed: f64) -> Result<PathBuf> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let ms = now.max(self.last_ms.saturating_add(1));
        self.last_ms = ms;
        let path = self.img_dir.join(format!("center_{}.jpg", crate::sim::record::timestamp(ms)));
        fs::write(&path, jpeg).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(self.csv, "{}, , , {steering}, {throttle}, 0, {speed:.4}", path.display())
            .and_then(|_| self.csv.flush())
            .with_context(|| format!("cannot write {}", self.csv_path.display()))?;
        self.rows += 1;
        Ok(path)
    }

    pub fn csv_path(&self) -> &Path {
        &self.csv_path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_name_unique_images_and_an_existing_recording_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let mut rec = Recorder::create(&dir, false, "test").unwrap();
        let a = rec.write(b"\xFF\xD8one\xFF\xD9", "-0.05", "0.918", 30.19).unwrap();
        let b = rec.write(b"\xFF\xD8two\xFF\xD9", "0.1", "0.5", 8.0).unwrap();
        assert!(a < b, "names in time order: {a:?} {b:?}");
        assert_eq!(fs::read(&b).unwrap(), b"\xFF\xD8two\xFF\xD9");
        let csv = fs::read_to_string(dir.join(LOG_FILE)).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], format!("{}, , , 0.1, 0.5, 0, 8.0000", b.display()));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("center_20") && name.len() == "center_2026_11_28_14_28_29_922.jpg".len(), "{name}");
        drop(rec);
        let err = Recorder::create(&dir, false, "again").err().unwrap().to_string();
        assert!(err.contains("not empty") && err.contains("--force"), "{err}");
        assert_eq!(fs::read_to_string(dir.join(LOG_FILE)).unwrap(), csv);
        Recorder::create(&dir, true, "again").unwrap();
        assert_eq!(fs::read_dir(dir.join(IMAGE_DIR)).unwrap().count(), 0);
    }
}
