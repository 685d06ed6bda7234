//! The Udacity simulator's recording format (also what `pilot sim` records): a folder with
//! `driving_log.csv` and `IMG/`.
//!
//! `driving_log.csv` has seven columns `center,left,right,steering,throttle,brake,speed`, an
//! optional header line, a space after each comma, and rows in time order. Its image paths are
//! whatever the recording machine wrote (absolute Windows paths, Unix paths, relative paths), so
//! an image is found by its file name alone, inside the `IMG/` folder next to the CSV. Empty
//! left/right fields are allowed (a one-camera recording); the centre image is required.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::data::text::{Record, TextFile};

pub const LOG_FILE: &str = "driving_log.csv";
pub const IMAGE_DIR: &str = "IMG";
const COLUMNS: [&str; 7] = ["center", "left", "right", "steering", "throttle", "brake", "speed"];

/// One row of a driving log: one moment of driving.
#[derive(Clone, Debug, PartialEq)]
pub struct DrivingRow {
    /// Index of the recording folder it came from (in load order).
    pub recording: usize,
    /// 1-based line in that recording's `driving_log.csv`.
    pub line: usize,
    pub center: PathBuf,
    pub left: Option<PathBuf>,
    pub right: Option<PathBuf>,
    /// In `[-1, 1]`, positive turns right.
    pub steering: f32,
    pub throttle: f32,
    pub brake: f32,
    pub speed: f32,
}

/// The recording folders under `dirs`, in order: a folder with a `driving_log.csv` is a
/// recording; any other folder is searched (its subfolders in name order) for recordings.
pub fn find_recordings<P: AsRef<Path>>(dirs: &[P]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            bail!("{} is not a folder (expected a recording with {LOG_FILE} and {IMAGE_DIR}/, or a folder of recordings)", dir.display());
        }
        let before = found.len();
        collect(dir, &mut found)?;
        if found.len() == before {
            bail!("no {LOG_FILE} in {} or any folder below it", dir.display());
        }
    }
    Ok(found)
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    if dir.join(LOG_FILE).is_file() {
        found.push(dir.to_path_buf());
        return Ok(());
    }
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        if path.is_dir() {
            subdirs.push(path);
        }
    }
    subdirs.sort();
    for sub in subdirs {
        collect(&sub, found)?;
    }
    Ok(())
}

/// Reads `<dir>/driving_log.csv`, checking every row and that every image it names exists.
pub fn read_log(dir: &Path, recording: usize) -> Result<Vec<DrivingRow>> {
    let file = TextFile::read(&dir.join(LOG_FILE))?;
    let images = dir.join(IMAGE_DIR);
    let mut rows = Vec::new();
    for (i, rec) in file.records(',').enumerate() {
        if i == 0 && is_header(&rec) {
            continue;
        }
        if rec.fields.len() != COLUMNS.len() {
            bail!("{}: {} columns, expected 7: {}", rec.at(), rec.fields.len(), COLUMNS.join(","));
        }
        let image = |i: usize| -> Result<Option<PathBuf>> {
            let field = rec.fields[i];
            if field.is_empty() {
                return Ok(None);
            }
            // Windows paths use `\`, which Unix paths treat as a file-name character.
            let name = field.rsplit(['\\', '/']).next().unwrap_or(field);
            let path = images.join(name);
            if !path.is_file() {
                bail!("{}: {} image `{name}` (from `{field}`) is not in {}", rec.at(), COLUMNS[i], images.display());
            }
            Ok(Some(path))
        };
        let Some(center) = image(0)? else {
            bail!("{}: the center image is missing", rec.at());
        };
        rows.push(DrivingRow {
            recording,
            line: rec.line,
            center,
            left: image(1)?,
            right: image(2)?,
            steering: rec.finite(3, "steering")?,
            throttle: rec.finite(4, "throttle")?,
            brake: rec.finite(5, "brake")?,
            speed: rec.finite(6, "speed")?,
        });
    }
    if rows.is_empty() {
        bail!("{}: no rows", file.path.display());
    }
    Ok(rows)
}

/// A header line names the columns: its steering field is `steering`, not a number.
fn is_header(rec: &Record) -> bool {
    rec.fields.get(3).is_some_and(|f| f.eq_ignore_ascii_case("steering"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{solid, write_image};

    /// A recording with the given log text, and images for every file name it mentions.
    fn recording(root: &Path, name: &str, log: &str) -> PathBuf {
        let dir = root.join(name);
        for line in log.lines() {
            for field in line.split(',').take(3) {
                let file = field.trim().rsplit(['\\', '/']).next().unwrap_or("");
                if file.ends_with(".jpg") {
                    write_image(&dir.join(IMAGE_DIR).join(file), &solid(4, 2, [9, 9, 9]), 4, 2);
                }
            }
        }
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOG_FILE), log).unwrap();
        dir
    }

    #[test]
    fn reads_windows_unix_and_relative_paths_with_or_without_header() {
        let tmp = tempfile::tempdir().unwrap();
        let log = "center,left,right,steering,throttle,brake,speed\n\
            C:\\Users\\x\\IMG\\center_1.jpg, C:\\Users\\x\\IMG\\left_1.jpg, C:\\Users\\x\\IMG\\right_1.jpg, 0, 0, 0, 7.822457E-05\r\n\
            /home/u/run/IMG/center_2.jpg, /home/u/run/IMG/left_2.jpg, /home/u/run/IMG/right_2.jpg, -0.25, 0.5, 0, 30.1\n\
            IMG/center_3.jpg, , , 1, 1, 0, 30\n";
        let dir = recording(tmp.path(), "run", log);
        let rows = read_log(&dir, 4).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].center, dir.join("IMG/center_1.jpg"));
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].speed, 7.822457e-5);
        assert_eq!(rows[1].left, Some(dir.join("IMG/left_2.jpg")));
        assert_eq!((rows[1].steering, rows[1].throttle, rows[1].recording), (-0.25, 0.5, 4));
        assert_eq!((rows[2].left.as_ref(), rows[2].right.as_ref()), (None, None));
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            ("a.jpg, b.jpg, c.jpg, 0, 0, 0\n", "6 columns"),
            ("a.jpg, b.jpg, c.jpg, x, 0, 0, 0\n", "`steering` is `x`"),
            ("a.jpg, b.jpg, c.jpg, 0, 0, 0, 0\na.jpg, b.jpg, c.jpg, NaN, 0, 0, 0\n", "not a finite"),
            ("a.jpg, b.jpg, gone.jpg, 0, 0, 0, 0\n", "right image `gone.jpg`"),
            (", b.jpg, c.jpg, 0, 0, 0, 0\n", "center image is missing"),
        ];
        for (k, (log, want)) in cases.iter().enumerate() {
            let dir = recording(tmp.path(), &format!("r{k}"), log);
            if log.contains("gone.jpg") {
                std::fs::remove_file(dir.join("IMG/gone.jpg")).unwrap();
            }
            let err = read_log(&dir, 0).unwrap_err().to_string();
            let line = log.lines().count();
            assert!(err.contains(&format!("{LOG_FILE}:{line}")) && err.contains(want), "{err}");
        }
        let empty = recording(tmp.path(), "empty", "\n");
        assert!(read_log(&empty, 0).unwrap_err().to_string().contains("no rows"));
        let err = read_log(&tmp.path().join("none"), 0).unwrap_err().to_string();
        assert!(err.contains("cannot read") && err.contains(LOG_FILE), "{err}");
    }

    #[test]
    fn finds_recordings_in_parents_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        let line = "c.jpg, l.jpg, r.jpg, 0, 0, 0, 0\n";
        let b = recording(tmp.path(), "all/b", line);
        let a = recording(tmp.path(), "all/a", line);
        let nested = recording(tmp.path(), "all/c/deep", line);
        let single = recording(tmp.path(), "single", line);
        let found = find_recordings(&[tmp.path().join("all"), single.clone()]).unwrap();
        assert_eq!(found, [a, b, nested, single]);
        std::fs::create_dir_all(tmp.path().join("nothing/here")).unwrap();
        let err = find_recordings(&[tmp.path().join("nothing")]).unwrap_err().to_string();
        assert!(err.contains("no driving_log.csv"), "{err}");
        assert!(find_recordings(&[tmp.path().join("missing")]).is_err());
    }
}
