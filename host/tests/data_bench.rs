//! Benchmarks of the data pipeline (run by hand; they print numbers and assert nothing about
//! speed):
//!
//! ```text
//! cargo test --release -p host --test data_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `data_bench_examples` needs nothing; `data_bench_real_sets` loads the real data sets from
//! `$PILOT_DATA` (default `target/data`), unpacked from `../shared/data` as its README says.

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::preprocess::preprocess_frame;
use host::data::{
    Balance, CifarPart, ClassificationData, ClassificationOptions, DrivingData, DrivingOptions, Examples, Rng,
    SplitOptions,
};
use host::zoo::{pilotnet_input, sign_input};

/// A one-row recording of three camera-like 320x160 JPEGs.
fn tiny_recording(dir: &Path) {
    let (w, h) = (320u32, 160u32);
    let frame: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) & 255) as u8]
        })
        .collect();
    std::fs::create_dir_all(dir.join("IMG")).unwrap();
    for cam in ["center", "left", "right"] {
        image::save_buffer(dir.join(format!("IMG/{cam}.jpg")), &frame, w, h, image::ExtendedColorType::Rgb8).unwrap();
    }
    std::fs::write(dir.join("driving_log.csv"), "center.jpg, left.jpg, right.jpg, 0.1, 0, 0, 0\n").unwrap();
}

/// CPU time this thread has used, in ns (Linux `schedstat`): unlike wall time, it does not
/// count the time other processes on a busy machine take from this one.
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Microseconds of this thread's CPU time per call of `f`.
fn per_example_us(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = thread_cpu_ns();
    for i in 0..n {
        f(i);
    }
    (thread_cpu_ns() - t) as f64 / 1e3 / n as f64
}

#[test]
#[ignore]
fn data_bench_examples() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_recording(tmp.path());
    let data =
        DrivingData::load(&[tmp.path()], &DrivingOptions { progress: false, ..DrivingOptions::new(pilotnet_input()) })
            .unwrap();
    let spec = pilotnet_input();
    let mut out = vec![0i8; spec.shape.len()];
    let frame = data.frame(0, host::data::Camera::Center).unwrap().to_vec();
    let n = 3000;
    let pp = per_example_us(n, |_| {
        preprocess_frame(spec.preprocess.as_ref().unwrap(), spec.shape, &frame, &mut out).unwrap()
    });
    let mut rng = Rng::new(1);
    let plain = per_example_us(n, |_| {
        data.example(0, &mut rng, false, &mut out);
    });
    let aug = per_example_us(n, |_| {
        data.example(0, &mut rng, true, &mut out);
    });
    let batch = 64;
    let (mut x, mut y) = (vec![0i8; batch * out.len()], vec![0f32; batch]);
    let indices = vec![0usize; batch];
    let t = Instant::now();
    for k in 0..50 {
        data.fill_batch(&indices, k, true, &mut x, &mut y);
    }
    let batched = t.elapsed().as_secs_f64() * 1e6 / (50 * batch) as f64;
    println!("PilotNet 320x160 -> 66x200 YUV, CPU time of one thread: common preprocess_frame alone {pp:.0} us, example {plain:.0} us, augmented example {aug:.0} us");
    println!(
        "PilotNet augmented, fill_batch({batch}) on {} threads: {batched:.0} us wall time per example",
        rayon::current_num_threads()
    );
}

fn data_dir() -> PathBuf {
    std::env::var_os("PILOT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/data"))
}

#[test]
#[ignore]
fn data_bench_real_sets() {
    let root = data_dir();
    let split = SplitOptions { val_fraction: 0.2, seed: 1, ..SplitOptions::default() };

    let dir = root.join("udacity-track1");
    if dir.is_dir() {
        let t = Instant::now();
        let data = DrivingData::load(&[&dir], &DrivingOptions::new(pilotnet_input())).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let s = data.split(&split).unwrap();
        let straight = data.rows().iter().filter(|r| r.steering.abs() < 0.01).count();
        let epoch = data.epoch(&s.train, &Balance::default(), &mut Rng::new(1));
        println!(
            "udacity: {} rows ({} straight), 3 cameras, loaded in {secs:.2} s; split train {} / val {} ({} guard rows dropped); balanced epoch {} rows",
            data.len(),
            straight,
            s.train.len(),
            s.val.len(),
            data.len() - s.train.len() - s.val.len(),
            epoch.len()
        );
    } else {
        println!("skipping udacity: no {}", dir.display());
    }

    type Loader<'a> = &'a dyn Fn(&ClassificationOptions) -> anyhow::Result<ClassificationData>;
    let sets: [(&str, Loader); 2] = [
        ("gtsrb", &|o| ClassificationData::gtsrb(&root.join("GTSRB"), o)),
        ("cifar10 folders", &|o| ClassificationData::image_folder(&root.join("cifar10/train"), o)),
    ];
    for (name, load) in sets {
        let t = Instant::now();
        match load(&ClassificationOptions::new(sign_input())) {
            Ok(data) => {
                let secs = t.elapsed().as_secs_f64();
                let s = data.split(&split).unwrap();
                let mut out = vec![0i8; data.input().shape.len()];
                let mut rng = Rng::new(2);
                let spec = data.input();
                let pp = per_example_us(20000, |i| {
                    preprocess_frame(
                        spec.preprocess.as_ref().unwrap(),
                        spec.shape,
                        data.frame(i % data.len()),
                        &mut out,
                    )
                    .unwrap();
                });
                let plain = per_example_us(20000, |i| {
                    data.example(i % data.len(), &mut rng, false, &mut out);
                });
                let aug = per_example_us(20000, |i| {
                    data.example(i % data.len(), &mut rng, true, &mut out);
                });
                println!(
                    "{name}: {} images, {} classes, loaded in {secs:.2} s; split train {} / val {}; CPU time: common preprocess_frame alone {pp:.1} us, example {plain:.1} us, augmented {aug:.1} us",
                    data.len(),
                    data.num_classes(),
                    s.train.len(),
                    s.val.len()
                );
            }
            Err(e) => println!("skipping {name}: {e:#}"),
        }
    }
    let cifar_bin = root.join("cifar-10-batches-bin");
    if cifar_bin.is_dir() {
        let t = Instant::now();
        let data = ClassificationData::cifar10(&cifar_bin, CifarPart::Train, &ClassificationOptions::new(sign_input()))
            .unwrap();
        println!("cifar10 binary: {} images in {:.2} s", data.len(), t.elapsed().as_secs_f64());
    }
}
