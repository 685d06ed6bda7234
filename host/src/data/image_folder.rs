//! Image-folder classification sets: `<root>/<class>/<image>`, one subfolder per class, classes
//! numbered in folder-name order (as Keras' `image_dataset_from_directory` does), images in
//! file-name order. Hidden entries and files that are not images (by extension) are skipped.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::data::classification::LabeledFile;

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "gif", "ppm", "pgm", "pbm", "pnm"];

/// The class names and the labeled image files under `root`.
pub(crate) fn files(root: &Path) -> Result<(Vec<String>, Vec<LabeledFile>)> {
    let classes: Vec<(String, PathBuf)> = entries(root)?.into_iter().filter(|(_, p)| p.is_dir()).collect();
    if classes.is_empty() {
        bail!("no class folders in {}", root.display());
    }
    if classes.len() > u16::MAX as usize {
        bail!("{} has {} class folders; at most {} are supported", root.display(), classes.len(), u16::MAX);
    }
    let mut files = Vec::new();
    for (label, (_, dir)) in classes.iter().enumerate() {
        let before = files.len();
        for (name, path) in entries(dir)? {
            let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            if path.is_file() && IMAGE_EXTENSIONS.contains(&ext.as_str()) {
                files.push(LabeledFile { path, label: label as u16, group: None, roi: None });
            }
        }
        if files.len() == before {
            bail!("class folder {} has no images ({})", dir.display(), IMAGE_EXTENSIONS.join(", "));
        }
    }
    Ok((classes.into_iter().map(|(name, _)| name).collect(), files))
}

/// The visible entries of `dir` with UTF-8 names, sorted by name.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| anyhow!("{}: file name is not UTF-8", path.display()))?.to_string();
        if !name.starts_with('.') {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::data::testutil::{solid, write_image};
    use crate::data::{ClassificationData, ClassificationOptions, Examples, ImageAugment, Rng, SplitOptions};

    fn opts() -> ClassificationOptions {
        ClassificationOptions { progress: false, ..ClassificationOptions::new(crate::zoo::sign_input()) }
    }

    #[test]
    fn classes_in_name_order_images_resized_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_image(&root.join("truck/0001.png"), &solid(64, 48, [200, 10, 10]), 64, 48);
        write_image(&root.join("truck/0000.png"), &solid(16, 16, [10, 10, 200]), 16, 16);
        write_image(&root.join("airplane/a.jpg"), &solid(32, 32, [10, 200, 10]), 32, 32);
        std::fs::write(root.join("truck/notes.txt"), "not an image").unwrap();
        std::fs::create_dir_all(root.join(".cache/x")).unwrap();
        let data = ClassificationData::image_folder(root, &opts()).unwrap();
        assert_eq!(data.class_names(), ["airplane", "truck"]);
        assert_eq!(data.labels(), [0, 1, 1]);
        // Flat colours survive any resize: every stored pixel is the file's colour.
        assert!(data.frame(1).chunks(3).all(|p| p == [10, 10, 200]));
        assert!(data.frame(2).chunks(3).all(|p| p == [200, 10, 10]));
        let mut out = vec![0i8; 32 * 32 * 3];
        assert_eq!(data.example(2, &mut Rng::new(0), false, &mut out), 1);
        assert_eq!(out[..3], [72, -118, -118]);
        let s = data.split(&SplitOptions { val_fraction: 0.34, seed: 0, ..SplitOptions::default() }).unwrap();
        assert_eq!((s.train.len(), s.val.len()), (2, 1));
    }

    #[test]
    fn mirror_augmentation_for_natural_images() {
        let tmp = tempfile::tempdir().unwrap();
        let mut half = solid(32, 32, [0, 0, 0]);
        for px in half.chunks_mut(3).enumerate().filter(|(i, _)| i % 32 < 16).map(|(_, p)| p) {
            px.copy_from_slice(&[255, 255, 255]);
        }
        write_image(&tmp.path().join("a/0.png"), &half, 32, 32);
        let augment = ImageAugment { max_rotation_deg: 0.0, max_scale: 0.0, max_shift_px: 0.0, brightness: 0.0, flip_p: 1.0 };
        let data = ClassificationData::image_folder(tmp.path(), &ClassificationOptions { augment, ..opts() }).unwrap();
        let mut out = vec![0i8; 32 * 32 * 3];
        data.example(0, &mut Rng::new(0), true, &mut out);
        assert_eq!((out[0], out[31 * 3]), (-128, 127), "left half dark after the mirror");
    }

    #[test]
    fn empty_and_unreadable_sets_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let err = ClassificationData::image_folder(tmp.path(), &opts()).err().unwrap().to_string();
        assert!(err.contains("no class folders"), "{err}");
        std::fs::create_dir_all(tmp.path().join("cat")).unwrap();
        std::fs::write(tmp.path().join("cat/readme.txt"), "").unwrap();
        let err = ClassificationData::image_folder(tmp.path(), &opts()).err().unwrap().to_string();
        assert!(err.contains("has no images"), "{err}");
        std::fs::write(tmp.path().join("cat/0.jpg"), "broken").unwrap();
        let err = ClassificationData::image_folder(tmp.path(), &opts()).err().unwrap().to_string();
        assert!(err.contains("cannot decode image") && err.contains("0.jpg"), "{err}");
    }
}
