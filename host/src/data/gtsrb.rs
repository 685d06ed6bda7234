//! The German Traffic Sign Recognition Benchmark's official layout.
//!
//! Training: `Final_Training/Images/000CC/` holds the PPM images of class `CC` and
//! `GT-000CC.csv`; test: one folder of images and one GT CSV for all of them. The CSVs are
//! semicolon-separated with a header `Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId`.
//!
//! **The region of interest is `x in X1..X2, y in Y1..Y2`: X2 and Y2 are exclusive**, a crop of
//! `(X2 - X1) x (Y2 - Y1)` pixels. The official readme only says the images have "a border of
//! 10 % around the sign, at least 5 pixels"; the annotations agree with that only when X2/Y2 are
//! exclusive: e.g. `00000_00001.ppm;30;30;5;5;25;25;0` has 5-pixel borders on all four sides
//! read exclusively, but a 4-pixel right and bottom border read inclusively. The same holds on
//! average over the 25,087 training images in `../shared/data` (left/top borders 4.03/4.05 px,
//! right/bottom 3.79/3.80 exclusive but 2.79/2.80 inclusive), and no X2 there exceeds Width - 1.
//!
//! Training images come in tracks: ~30 frames of one physical sign as the car approaches it,
//! named `TTTTT_FFFFF.ppm` (track, frame). The split keeps each (class, track) on one side.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use common::preprocess::Rect;

use crate::data::classification::{LabeledFile, Roi};
use crate::data::text::{Record, TextFile};

/// The 43 sign classes, by class id.
pub const CLASS_NAMES: [&str; 43] = [
    "speed limit 20",
    "speed limit 30",
    "speed limit 50",
    "speed limit 60",
    "speed limit 70",
    "speed limit 80",
    "end of speed limit 80",
    "speed limit 100",
    "speed limit 120",
    "no passing",
    "no passing for trucks",
    "right of way at next intersection",
    "priority road",
    "yield",
    "stop",
    "no vehicles",
    "no trucks",
    "no entry",
    "general caution",
    "dangerous curve left",
    "dangerous curve right",
    "double curve",
    "bumpy road",
    "slippery road",
    "road narrows on the right",
    "road work",
    "traffic signals",
    "pedestrians",
    "children crossing",
    "bicycles crossing",
    "beware of ice/snow",
    "wild animals crossing",
    "end of all limits",
    "turn right ahead",
    "turn left ahead",
    "ahead only",
    "go straight or right",
    "go straight or left",
    "keep right",
    "keep left",
    "roundabout",
    "end of no passing",
    "end of no passing for trucks",
];

pub(crate) fn class_names() -> Vec<String> {
    CLASS_NAMES.iter().map(|s| s.to_string()).collect()
}

/// The annotated images of the training layout under `root` (`root`, `root/Images` or
/// `root/Final_Training/Images` holds the class folders).
pub(crate) fn training_files(root: &Path) -> Result<Vec<LabeledFile>> {
    let images = [root.join("Final_Training/Images"), root.join("Images"), root.to_path_buf()]
        .into_iter()
        .find(|d| class_dirs(d).is_ok_and(|c| !c.is_empty()))
        .ok_or_else(|| anyhow!("no GTSRB class folders (00000, 00001, ...) in {} or its Final_Training/Images", root.display()))?;
    let mut files = Vec::new();
    for (class, dir) in class_dirs(&images)? {
        let csv = dir.join(format!("GT-{class:05}.csv"));
        if !csv.is_file() {
            bail!("{} has no annotation file {}", dir.display(), csv.display());
        }
        files.extend(read_gt(&csv, &dir, Some(class))?);
    }
    Ok(files)
}

/// The class folders (`000CC`, five digits) of `images`, by class id.
fn class_dirs(images: &Path) -> Result<Vec<(u16, PathBuf)>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(images).with_context(|| format!("cannot list {}", images.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name.len() == 5 && name.bytes().all(|b| b.is_ascii_digit()) {
            let class: u16 = name.parse()?;
            if class as usize >= CLASS_NAMES.len() {
                bail!("{}: GTSRB has classes 0..=42", path.display());
            }
            dirs.push((class, path));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The annotated images of the test layout: `path` is the GT CSV, or the folder holding the
/// images and exactly one `GT-*.csv`.
pub(crate) fn test_files(path: &Path) -> Result<Vec<LabeledFile>> {
    let (csv, images) = if path.is_dir() {
        // The official layout: the images in `Final_Test/Images/`, the labels
        // (`GT-final_test.csv`, a separate download) next to them or at the top.
        let images = [path.join("Final_Test/Images"), path.join("Images"), path.to_path_buf()].into_iter().find(|d| d.is_dir()).unwrap_or_default();
        let mut found = Vec::new();
        for dir in [path, images.as_path()] {
            for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
                let p = entry?.path();
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with("GT-") && name.ends_with(".csv") && !found.contains(&p) {
                    found.push(p);
                }
            }
        }
        match <[PathBuf; 1]>::try_from(found) {
            Ok([csv]) => (csv, images),
            Err(found) => bail!("{} holds {} GT-*.csv files (in it or in {}); name the labeled one", path.display(), found.len(), images.display()),
        }
    } else {
        (path.to_path_buf(), path.parent().unwrap_or(Path::new(".")).to_path_buf())
    };
    let mut files = read_gt(&csv, &images, None)?;
    for f in &mut files {
        f.group = None;
    }
    Ok(files)
}

/// True when `dir` looks like GTSRB's official test layout (`Final_Test/Images`, or a folder
/// with `GT-final_test.csv` in it or in its `Images/`), or is that CSV itself.
pub(crate) fn is_test_layout(dir: &Path) -> bool {
    dir.join("Final_Test/Images").is_dir()
        || dir.join("GT-final_test.csv").is_file()
        || dir.join("Images/GT-final_test.csv").is_file()
        || (dir.is_file() && dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with("GT-")))
}

const COLUMNS: [&str; 8] = ["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"];

/// Reads one GT CSV whose images are in `dir`; `class` is the folder's class, which every row
/// must have. Files are grouped by (class, track) when named `TTTTT_FFFFF.*`.
fn read_gt(csv: &Path, dir: &Path, class: Option<u16>) -> Result<Vec<LabeledFile>> {
    let file = TextFile::read(csv)?;
    let mut records = file.records(';');
    let header = records.next().ok_or_else(|| anyhow!("{} is empty", csv.display()))?;
    let col = column_indices(&header)?;
    let mut files = Vec::new();
    for rec in records {
        let name = rec.fields.get(col[0]).copied().unwrap_or("");
        let path = dir.join(name);
        if name.is_empty() || !path.is_file() {
            bail!("{}: image `{name}` is not in {}", rec.at(), dir.display());
        }
        let [width, height, x1, y1, x2, y2, label] = [1, 2, 3, 4, 5, 6, 7].map(|k| rec.parse::<u16>(col[k], COLUMNS[k]));
        let (width, height, x1, y1, x2, y2, label) = (width?, height?, x1?, y1?, x2?, y2?, label?);
        if !(x1 < x2 && x2 <= width && y1 < y2 && y2 <= height) {
            bail!("{}: region of interest x {x1}..{x2}, y {y1}..{y2} (X2, Y2 exclusive) is empty or outside the {width}x{height} image", rec.at());
        }
        if label as usize >= CLASS_NAMES.len() {
            bail!("{}: ClassId {label} is not a GTSRB class (0..=42)", rec.at());
        }
        if let Some(folder) = class.filter(|&c| c != label) {
            bail!("{}: ClassId {label} in the folder of class {folder}", rec.at());
        }
        let rect = Rect { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
        files.push(LabeledFile {
            path,
            label,
            group: track(name).map(|t| (label as u64) << 32 | t as u64),
            roi: Some(Roi { rect, width, height, at: rec.at() }),
        });
    }
    Ok(files)
}

/// Where each of [`COLUMNS`] is in the header (a test CSV without `ClassId` is unlabeled).
fn column_indices(header: &Record) -> Result<[usize; 8]> {
    let mut idx = [0; 8];
    for (i, name) in COLUMNS.iter().enumerate() {
        idx[i] = header.fields.iter().position(|f| f == name).ok_or_else(|| {
            anyhow!("{}: no `{name}` column in the header (expected {}); an unlabeled test CSV cannot be loaded", header.at(), COLUMNS.join(";"))
        })?;
    }
    Ok(idx)
}

/// The track of a training file name `TTTTT_FFFFF.ppm`.
fn track(name: &str) -> Option<u32> {
    let (track, rest) = name.split_once('_')?;
    let frame = rest.split('.').next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(track) && digits(frame)).then(|| track.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_numbers_come_from_file_names() {
        assert_eq!(track("00012_00029.ppm"), Some(12));
        assert_eq!(track("00000.ppm"), None);
        assert_eq!(track("a_b.ppm"), None);
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;
    use crate::data::testutil::{gradient, write_image};
    use crate::data::{ClassificationData, ClassificationOptions, Examples, Rng, SplitOptions};
    use common::preprocess::{preprocess_frame, ColorMode, PixelFormat, Preprocess};
    use common::Shape;

    fn opts() -> ClassificationOptions {
        ClassificationOptions { progress: false, ..ClassificationOptions::new(crate::zoo::sign_input()) }
    }

    /// Class folders `classes`, each with `tracks` tracks of 3 frames of 12x10 PPM images.
    fn training_set(root: &Path, classes: &[u16], tracks: u32) -> PathBuf {
        let images = root.join("GTSRB/Final_Training/Images");
        for &c in classes {
            let dir = images.join(format!("{c:05}"));
            let mut csv = String::from("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\r\n");
            for t in 0..tracks {
                for f in 0..3 {
                    let name = format!("{t:05}_{f:05}.ppm");
                    write_image(&dir.join(&name), &gradient(12, 10), 12, 10);
                    csv += &format!("{name};12;10;2;1;11;9;{c}\r\n");
                }
            }
            std::fs::write(dir.join(format!("GT-{c:05}.csv")), csv).unwrap();
        }
        root.join("GTSRB")
    }

    #[test]
    fn crops_the_roi_exclusively_and_resizes_with_common() {
        let tmp = tempfile::tempdir().unwrap();
        let root = training_set(tmp.path(), &[0, 14], 2);
        let data = ClassificationData::gtsrb(&root, &opts()).unwrap();
        assert_eq!((data.len(), data.num_classes()), (12, 43));
        assert_eq!(data.class_names()[14], "stop");
        assert_eq!(data.labels()[6..], [14; 6]);
        // The chip's view: x 2..11, y 1..9 (a 9x8 crop) resized to 32x32 RGB.
        let pp = Preprocess { frame_w: 12, frame_h: 10, format: PixelFormat::Rgb888, crop: Rect { x: 2, y: 1, w: 9, h: 8 }, color: ColorMode::Rgb };
        let mut want = vec![0i8; 32 * 32 * 3];
        preprocess_frame(&pp, Shape::new(32, 32, 3), &gradient(12, 10), &mut want).unwrap();
        let mut got = vec![0i8; 32 * 32 * 3];
        assert_eq!(data.example(7, &mut Rng::new(0), false, &mut got), 14);
        assert_eq!(got, want);
        let mut aug = vec![0i8; 32 * 32 * 3];
        data.example(7, &mut Rng::new(0), true, &mut aug);
        assert_ne!(aug, want);
    }

    #[test]
    fn split_keeps_tracks_together() {
        let tmp = tempfile::tempdir().unwrap();
        let root = training_set(tmp.path(), &[1, 2], 5);
        let data = ClassificationData::gtsrb(&root.join("Final_Training"), &opts()).unwrap();
        let s = data.split(&SplitOptions { val_fraction: 0.3, seed: 5, ..SplitOptions::default() }).unwrap();
        assert_eq!(s.val.len(), 9);
        // Images are stored class by class, track by track, 3 frames each.
        let track = |i: usize| i / 3;
        assert!(s.train.iter().all(|&i| s.val.iter().all(|&j| track(i) != track(j))));
    }

    #[test]
    fn test_layout_reads_one_csv() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("Final_Test/Images");
        let mut csv = String::from("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n");
        for (i, c) in [3, 40, 3].iter().enumerate() {
            write_image(&dir.join(format!("{i:05}.ppm")), &gradient(8, 8), 8, 8);
            csv += &format!("{i:05}.ppm;8;8;1;1;7;7;{c}\n");
        }
        std::fs::write(dir.join("GT-final_test.csv"), csv).unwrap();
        let data = ClassificationData::gtsrb_test(&dir, &opts()).unwrap();
        assert_eq!(data.labels(), [3, 40, 3]);
        let again = ClassificationData::gtsrb_test(&dir.join("GT-final_test.csv"), &opts()).unwrap();
        assert_eq!(again.frame(1), data.frame(1));
        std::fs::write(dir.join("GT-final_test.test.csv"), "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\n").unwrap();
        let err = ClassificationData::gtsrb_test(&dir, &opts()).err().unwrap().to_string();
        assert!(err.contains("2 GT-*.csv"), "{err}");
        let err = ClassificationData::gtsrb_test(&dir.join("GT-final_test.test.csv"), &opts()).err().unwrap().to_string();
        assert!(err.contains("test.csv:1") && err.contains("no `ClassId` column"), "{err}");
    }

    #[test]
    fn annotation_errors_name_file_and_line() {
        let header = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n";
        let cases = [
            ("00000_00000.ppm;12;10;2;1;13;9;4\n", "outside the 12x10 image"),
            ("00000_00000.ppm;12;10;5;1;5;9;4\n", "is empty"),
            ("00000_00000.ppm;12;10;2;1;11;9;5\n", "ClassId 5 in the folder of class 4"),
            ("00000_00000.ppm;12;10;2;1;11;9;43\n", "not a GTSRB class"),
            ("00000_00000.ppm;12;10;2;1;x;9;4\n", "`Roi.X2` is `x`"),
            ("00000_00009.ppm;12;10;2;1;11;9;4\n", "image `00000_00009.ppm` is not in"),
            ("00000_00000.ppm;12;12;2;1;11;9;4\n", "is 12x10, but the annotation says 12x12"),
        ];
        for (k, (row, want)) in cases.iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("Images/00004");
            write_image(&dir.join("00000_00000.ppm"), &gradient(12, 10), 12, 10);
            std::fs::write(dir.join("GT-00004.csv"), format!("{header}{row}")).unwrap();
            let err = ClassificationData::gtsrb(tmp.path(), &opts()).err().unwrap().to_string();
            assert!(err.contains("GT-00004.csv:2") && err.contains(want), "case {k}: {err}");
        }
        let tmp = tempfile::tempdir().unwrap();
        write_image(&tmp.path().join("00002/00000_00000.ppm"), &gradient(4, 4), 4, 4);
        let err = ClassificationData::gtsrb(tmp.path(), &opts()).err().unwrap().to_string();
        assert!(err.contains("no annotation file") && err.contains("GT-00002.csv"), "{err}");
        let err = ClassificationData::gtsrb(&tmp.path().join("nothing"), &opts()).err().unwrap().to_string();
        assert!(err.contains("no GTSRB class folders"), "{err}");
    }
}
