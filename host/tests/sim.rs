//! The driving simulator from the outside: deterministic pictures, the autonomy metric on
//! drives whose interventions geometry predicts, the expert, the recorder's Udacity format (read
//! back by the trainer's loader), the int8 model driver and the `pilot sim` / `pilot bench sim`
//! commands.
//!
//! `cargo test --release -p host sim` runs these and the simulator's unit tests.

mod sim {
    use std::f64::consts::TAU;
    use std::path::Path;

    use clap::Parser;
    use common::preprocess::{to_rgb565, PixelFormat, Preprocess};
    use host::cli::{run, Cli};
    use host::sim::drive::{drive, Driver, ModelDriver, Pilot};
    use host::sim::metrics::autonomy;
    use host::sim::record::{drive_with_drift, record, ImageFormat, RecordOptions};
    use host::sim::render::{Camera, Frame, FRAME_H, FRAME_W};
    use host::sim::session::Session;
    use host::sim::track::{circle, Track};
    use host::sim::vehicle::Pose;
    use host::sim::world::World;
    use host::sim::{FRAME_DT, PHYSICS_STEPS};
    use image::AnimationDecoder;

    const SPEED: f64 = 9.0;

    /// The poses of the expert's drive, one per frame.
    fn expert_poses(track: &Track, laps: f64) -> Vec<Pose> {
        let mut poses = Vec::new();
        drive(track, None, &mut Pilot::Expert, SPEED, laps, |tick| {
            poses.push(tick.session.car().pose);
            Ok(())
        })
        .unwrap();
        poses
    }

    fn render(world: &World, camera: &Camera, pose: &Pose) -> Frame {
        let mut frame = Frame::default();
        world.render(camera, pose, &mut frame);
        frame
    }

    #[test]
    fn same_seed_gives_the_same_frames_and_other_seeds_other_frames() {
        let track = Track::generate(5);
        let poses = expert_poses(&track, 0.3);
        let (a, b) = (World::new(&track, 5), World::new(&Track::generate(5), 5));
        let cameras = [Camera::left(), Camera::centre(), Camera::right()];
        for pose in [poses[0], poses[poses.len() / 2], poses[poses.len() - 1]] {
            let frames: Vec<Frame> = cameras.iter().map(|c| render(&a, c, &pose)).collect();
            for (camera, frame) in cameras.iter().zip(&frames) {
                assert!(render(&b, camera, &pose) == *frame, "same seed, different bytes");
            }
            assert!(frames[0] != frames[1] && frames[1] != frames[2], "side cameras see what the centre one sees");
        }
        let other_track = Track::generate(6);
        let other = World::new(&other_track, 6);
        let (x, y) = (render(&a, &cameras[1], &poses[0]), render(&other, &cameras[1], &expert_poses(&other_track, 0.01)[0]));
        let differing = x.rgb().iter().zip(y.rgb()).filter(|(p, q)| p != q).count();
        assert!(differing > x.rgb().len() / 2, "seeds 5 and 6 differ in only {differing} bytes");
    }

    #[test]
    fn frames_show_sky_above_the_horizon_and_road_ahead() {
        let track = Track::generate(9);
        let world = World::new(&track, 9);
        let frame = render(&world, &Camera::centre(), &expert_poses(&track, 0.01)[0]);
        let px = |x: usize, y: usize| {
            let i = (y * FRAME_W + x) * 3;
            [frame.rgb()[i], frame.rgb()[i + 1], frame.rgb()[i + 2]].map(|v| v as i32)
        };
        // The road straight ahead at the bottom of PilotNet's crop (row 130) is grey.
        let road = px(FRAME_W / 2 + 20, 130);
        assert!((road[0] - road[1]).abs() < 25 && (road[1] - road[2]).abs() < 25, "road pixel {road:?}");
        // Row 10 is sky: bluer or brighter than the road.
        let sky = px(FRAME_W / 2, 10);
        assert!(sky[2] > road[2], "sky {sky:?} vs road {road:?}");
    }

    /// Steers the same every frame, whatever it sees.
    struct Constant(f32);

    impl Driver for Constant {
        fn steer(&mut self, _frame: &Frame) -> anyhow::Result<f32> {
            Ok(self.0)
        }
    }

    /// A car driving straight from the centre line of a circle of radius `r`, heading along
    /// it, is `sqrt(r^2 + x^2) - r` off after `x` metres: more than 1 m once
    /// `x > sqrt(2r + 1)`. Each intervention puts it back in the same situation, so the drive
    /// is a sequence of identical periods of `k` physics steps.
    struct StraightOnCircle {
        /// Physics steps per period.
        k: u64,
        /// Arc length gained per period (m).
        advance: f64,
    }

    impl StraightOnCircle {
        fn new(r: f64) -> Self {
            let step = SPEED * FRAME_DT / PHYSICS_STEPS as f64;
            let reach = (2.0 * r + 1.0).sqrt();
            let k = (reach / step).floor() as u64 + 1;
            // Far enough from the threshold that the centre line's 0.5 m chords do not matter.
            assert!(k as f64 * step - reach > 0.005 && reach - (k - 1) as f64 * step > 0.005);
            StraightOnCircle { k, advance: r * (k as f64 * step / r).atan() }
        }

        /// Interventions in a drive of `distance` metres along the circle, checking that the
        /// drive does not end close to one.
        fn interventions(&self, distance: f64) -> u64 {
            let periods = distance / self.advance;
            let whole = periods.floor();
            assert!((0.15..0.8).contains(&(periods - whole)), "the drive would end near an intervention");
            whole as u64
        }
    }

    #[test]
    fn straight_driver_on_a_circle_gets_the_predicted_interventions() {
        let r = 42.0;
        let track = Track::from_centre_line(&circle(r)).unwrap();
        assert!((track.length() - TAU * r).abs() < 0.01);
        let world = World::new(&track, 1);
        let laps = 0.5;
        let geometry = StraightOnCircle::new(r);
        let expected = geometry.interventions(laps * track.length());
        let report = drive(&track, Some(&world), &mut Pilot::Camera(&mut Constant(0.0)), SPEED, laps, |_| Ok(())).unwrap();
        assert_eq!(report.interventions.len() as u64, expected, "{report}");
        let dt = FRAME_DT / PHYSICS_STEPS as f64;
        for (j, intervention) in report.interventions.iter().enumerate() {
            let predicted = (j as u64 + 1) as f64 * geometry.k as f64 * dt;
            assert!((intervention.time - predicted).abs() < 1e-9, "intervention {j} at {} s, predicted {predicted} s", intervention.time);
        }
        assert!(report.max_abs_lateral > 1.0 && report.max_abs_lateral < 1.02, "{report}");
        assert_eq!(report.autonomy(), autonomy(report.interventions.len(), report.elapsed_s));
    }

    #[test]
    fn autonomy_of_a_scripted_drive_matches_the_formula() {
        // On a 2 km radius circle driving straight needs help every 7 s: autonomy is low but
        // not zero, and the elapsed time follows from the geometry too.
        let r = 2000.0;
        let track = Track::from_centre_line(&circle(r)).unwrap();
        let geometry = StraightOnCircle::new(r);
        let laps = 0.0425;
        let distance = laps * track.length();
        let n = geometry.interventions(distance);
        let mut session = Session::new(&track, SPEED);
        while session.laps() < laps {
            session.step(0.0);
        }
        let report = session.report();
        assert_eq!(report.interventions.len() as u64, n);
        let step = SPEED * FRAME_DT / PHYSICS_STEPS as f64;
        let rest = r * ((distance - n as f64 * geometry.advance) / r).tan();
        let steps = n * geometry.k + (rest / step).ceil() as u64;
        let frames = steps.div_ceil(PHYSICS_STEPS as u64);
        assert!((report.elapsed_s - frames as f64 * FRAME_DT).abs() < 1e-9, "{} s vs {frames} frames", report.elapsed_s);
        let predicted = (1.0 - n as f64 * 6.0 / report.elapsed_s) * 100.0;
        assert!((report.autonomy() - predicted).abs() < 1e-9 && predicted > 5.0, "{report}, predicted {predicted:.2}%");
    }

    #[test]
    fn expert_drives_three_tracks_without_help() {
        for seed in 1..=3 {
            let track = Track::generate(seed);
            let report = drive(&track, None, &mut Pilot::Expert, SPEED, 1.0, |_| Ok(())).unwrap();
            assert_eq!(report.autonomy(), 100.0, "seed {seed}: {report}");
            assert_eq!(report.laps_completed(), 1, "seed {seed}: {report}");
            assert!(report.max_abs_lateral < 0.3, "seed {seed}: {report}");
        }
    }

    #[test]
    fn recording_drift_recovers_well_before_a_metre() {
        for seed in 1..=3 {
            let track = Track::generate(seed);
            let mut labels = Vec::new();
            let report = drive_with_drift(&track, seed, SPEED, 1.0, |_, label| {
                labels.push(label);
                Ok(())
            })
            .unwrap();
            assert!(report.interventions.is_empty(), "seed {seed}: {report}");
            assert!(report.max_abs_lateral > 0.25 && report.max_abs_lateral < 0.9, "seed {seed}: {report}");
            assert!(labels.iter().all(|l| (-1.0..=1.0).contains(l)));
            let spread = labels.iter().map(|l| l.abs()).fold(0.0f32, f32::max);
            assert!(spread > 0.1, "seed {seed}: labels never leave {spread}");
        }
    }

    fn options(out: &Path, force: bool) -> RecordOptions {
        RecordOptions { out: out.to_owned(), seeds: vec![4], laps: 0.015, speed: SPEED, format: ImageFormat::Jpeg, force }
    }

    /// `YYYY_MM_DD_HH_MM_SS_mmm`
    fn is_timestamp(s: &str) -> bool {
        let parts: Vec<&str> = s.split('_').collect();
        let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        lengths == [4, 2, 2, 2, 2, 2, 3] && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    }

    #[test]
    fn recorder_writes_the_udacity_format() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("rec");
        let summary = record(&options(&out, false), |_, _| {}).unwrap();
        let csv = std::fs::read_to_string(out.join("driving_log.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len() as u64, summary.rows);
        assert!(lines.len() >= 5);
        for line in &lines {
            let fields: Vec<&str> = line.split(", ").collect();
            assert_eq!(fields.len(), 7, "{line}");
            for (field, camera) in fields[..3].iter().zip(["center", "left", "right"]) {
                let path = Path::new(field);
                assert!(path.is_absolute() && path.is_file(), "{field}");
                let name = path.file_name().unwrap().to_str().unwrap();
                let stamp = name.strip_prefix(&format!("{camera}_")).and_then(|n| n.strip_suffix(".jpg")).unwrap();
                assert!(is_timestamp(stamp), "{name}");
                let img = image::open(path).unwrap();
                assert_eq!((img.width() as usize, img.height() as usize), (FRAME_W, FRAME_H));
            }
            let steering: f32 = fields[3].parse().unwrap();
            assert!((-1.0..=1.0).contains(&steering));
            assert_eq!((fields[4], fields[5]), ("0", "0"));
            let mph: f64 = fields[6].parse().unwrap();
            assert!((mph - SPEED * 2.236936).abs() < 1e-3);
        }

        // The trainer's loader reads it back, row for row.
        let rows = host::data::udacity::read_log(&out, 0).unwrap();
        assert_eq!(rows.len(), lines.len());
        for (row, line) in rows.iter().zip(&lines) {
            assert_eq!(row.center, Path::new(line.split(", ").next().unwrap()));
            assert!(row.left.is_some() && row.right.is_some());
            assert_eq!(row.steering, line.split(", ").nth(3).unwrap().parse::<f32>().unwrap());
        }

        // Never overwritten without --force; with it, replaced.
        let err = record(&options(&out, false), |_, _| {}).unwrap_err();
        assert!(format!("{err:#}").contains("--force"), "{err:#}");
        assert_eq!(std::fs::read_to_string(out.join("driving_log.csv")).unwrap(), csv);
        record(&options(&out, true), |_, _| {}).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("driving_log.csv")).unwrap(), csv);

        // The same seed records the same files elsewhere.
        let again = tmp.path().join("again");
        record(&options(&again, false), |_, _| {}).unwrap();
        let (a, b) = (out.canonicalize().unwrap(), again.canonicalize().unwrap());
        let moved = std::fs::read_to_string(again.join("driving_log.csv")).unwrap();
        assert_eq!(moved.replace(b.to_str().unwrap(), a.to_str().unwrap()), csv);
        for entry in std::fs::read_dir(out.join("IMG")).unwrap() {
            let name = entry.unwrap().file_name();
            assert_eq!(std::fs::read(out.join("IMG").join(&name)).unwrap(), std::fs::read(again.join("IMG").join(&name)).unwrap());
        }
    }

    #[test]
    fn model_driver_steers_like_the_reference_interpreter() {
        let blob = host::zoo::pilotnet_random(3).to_bytes();
        let mut driver = ModelDriver::new(&blob).unwrap();
        let track = Track::generate(2);
        let world = World::new(&track, 2);
        let frame = render(&world, &Camera::centre(), &expert_poses(&track, 0.01)[0]);

        let model = common::Model::parse(&blob).unwrap();
        let pp = model.def().input.preprocess.unwrap();
        let mut input = vec![0i8; model.input().shape.len()];
        common::preprocess::preprocess_frame(&pp, model.input().shape, frame.rgb(), &mut input).unwrap();
        let mut arena = vec![0i8; model.plan().arena_bytes()];
        let q = common::run(&model, &input, &mut arena).unwrap()[0];
        let quant = model.output().quant;
        let expected = (q as i32 - quant.zero_point as i32) as f32 * 2f32.powi(quant.scale_exp as i32);
        assert_eq!(driver.steer(&frame).unwrap(), expected);

        // It drives the closed loop through the same trait.
        let report = drive(&track, Some(&world), &mut Pilot::Camera(&mut driver), SPEED, 0.01, |tick| {
            assert!(tick.frame.is_some());
            Ok(())
        })
        .unwrap();
        assert!(report.elapsed_s > 0.0);

        // A model for an RGB565 camera gets the frame converted first.
        let mut owned = host::zoo::pilotnet_random(3);
        let pp565 = Preprocess { format: PixelFormat::Rgb565Be, ..pp };
        owned.input.preprocess = Some(pp565);
        let blob565 = owned.to_bytes();
        let rgb565: Vec<u8> = frame.rgb().chunks_exact(3).flat_map(|p| to_rgb565([p[0], p[1], p[2]]).to_be_bytes()).collect();
        common::preprocess::preprocess_frame(&pp565, model.input().shape, &rgb565, &mut input).unwrap();
        let q = common::run(&model, &input, &mut arena).unwrap()[0];
        let expected = (q as i32 - quant.zero_point as i32) as f32 * 2f32.powi(quant.scale_exp as i32);
        assert_eq!(ModelDriver::new(&blob565).unwrap().steer(&frame).unwrap(), expected);

        let classifier = host::zoo::sign_cnn_random(1).to_bytes();
        let err = ModelDriver::new(&classifier).err().expect("a classifier is not a steering model");
        assert!(format!("{err:#}").contains("classifier"), "{err:#}");
    }

    #[test]
    fn drive_command_writes_the_lap_picture_and_the_gif() {
        let tmp = tempfile::tempdir().unwrap();
        let (png, gif) = (tmp.path().join("lap.png"), tmp.path().join("lap.gif"));
        let cli = Cli::try_parse_from([
            "pilot",
            "sim",
            "drive",
            "--driver",
            "expert",
            "--seed",
            "2",
            "--laps",
            "0.05",
            "--png",
            png.to_str().unwrap(),
            "--gif",
            gif.to_str().unwrap(),
        ])
        .unwrap();
        run(cli).unwrap();
        let picture = image::open(&png).unwrap();
        assert!(picture.width() > 200 && picture.height() > 200);
        let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&gif).unwrap())).unwrap();
        let frames = decoder.into_frames().collect::<Result<Vec<_>, _>>().unwrap();
        assert!(frames.len() >= 10, "{} frames", frames.len());
        assert_eq!(frames[0].buffer().dimensions(), (FRAME_W as u32, FRAME_H as u32));
    }

    #[test]
    fn commands_parse_seeds_and_refuse_ambiguity() {
        let bench = Cli::try_parse_from(["pilot", "bench", "sim", "--frames", "20"]).unwrap();
        run(bench).unwrap();
        assert!(Cli::try_parse_from(["pilot", "sim", "drive", "--driver", "expert", "--seed", "1", "--seeds", "2,3"]).is_err());
        assert!(Cli::try_parse_from(["pilot", "sim", "drive", "--seed", "1"]).is_err(), "a driver is required");
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing.pnn8");
        let cli = Cli::try_parse_from(["pilot", "sim", "drive", "--blob", missing.to_str().unwrap()]).unwrap();
        let err = run(cli).unwrap_err();
        assert!(format!("{err:#}").contains("missing.pnn8"), "{err:#}");
    }
}
