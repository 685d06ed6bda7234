//! The closed loop in continuous time: at ideal timing it is the simulator's historical loop to
//! the bit; at a board's timing a frame captured at t steers from t + latency, held until the
//! next frame's command lands one period later; the recorder samples and labels the expert's
//! drive at a board's rate and latency.
//!
//! `cargo test --release -p host --test timing_loop`

mod timing_loop {
    use std::cell::RefCell;
    use std::path::Path;

    use clap::Parser;
    use common::board::cost::FrameCost;
    use common::board::timing::{frame_timing, Pipeline};
    use common::board::{BLACKPILL, BOARDS};
    use common::Model;
    use host::cli::{run, Cli};
    use host::sim::clock::{Counted, Timing};
    use host::sim::drive::{drive, Driver, ModelDriver, Pilot};
    use host::sim::metrics::Report;
    use host::sim::record::{drive_with_drift, record, record_timed, sample_drive_with_drift, ImageFormat, RecordOptions, RecordTiming, Sample};
    use host::sim::render::Frame;
    use host::sim::timed::drive_timed;
    use host::sim::track::{circle, Track};
    use host::sim::vehicle::{Car, Pose};
    use host::sim::world::World;

    /// FNV-1a.
    fn digest(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
    }

    /// The report's `Debug` text: every field and path point, every float in a form that reads
    /// back to the same bits.
    fn report_digest(r: &Report) -> u64 {
        digest(format!("{r:?}").as_bytes())
    }

    /// The recording's log with its folder taken out, and every image's bytes.
    fn recording_digest(out: &Path) -> u64 {
        let dir = out.canonicalize().unwrap();
        let mut text = std::fs::read_to_string(out.join("driving_log.csv")).unwrap().replace(dir.to_str().unwrap(), "");
        let mut names: Vec<_> = std::fs::read_dir(out.join("IMG")).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for name in names {
            let bytes = std::fs::read(out.join("IMG").join(&name)).unwrap();
            text.push_str(&format!("{name:?} {:#x}\n", digest(&bytes)));
        }
        digest(text.as_bytes())
    }

    struct Constant(f32);

    impl Driver for Constant {
        fn steer(&mut self, _frame: &Frame) -> anyhow::Result<f32> {
            Ok(self.0)
        }
    }

    fn record_options(out: &Path) -> RecordOptions {
        RecordOptions { out: out.to_owned(), seeds: vec![4, 5], laps: 0.02, speed: 9.0, format: ImageFormat::Png, force: false }
    }

    // Digests of drives by the frame-by-frame loop the simulator had before it ran in continuous
    // time (commit 2f531c0: `drive` rendering, steering and stepping one 0.1 s frame at a time;
    // `drive_with_drift` and `record` the same), taken with that code on x86_64 Linux.
    const EXPERT_SEED1: u64 = 0x7939bba36e6fdc7c;
    const STRAIGHT_ON_A_CIRCLE: u64 = 0x805f3149e674a07a;
    const RANDOM_PILOTNET_SEED2: u64 = 0x3699b5c528b15025;
    const DRIFT_SEED3: u64 = 0xa088c8acb30b999c;
    const DRIFT_SEED3_LABELS: u64 = 0x59491ea1ba5f0967;
    const RECORDING_SEEDS_4_5: u64 = 0xac0089f615d2286e;

    #[test]
    fn ideal_timing_is_the_historical_loop_to_the_bit() {
        let ideal = Timing::ideal();
        let custom = Timing::custom(0.1, 0.0).unwrap();
        assert_eq!(ideal.slot, custom.slot);

        let track = Track::generate(1);
        let expert = drive(&track, None, &mut Pilot::Expert, 9.0, 1.0, |_| Ok(())).unwrap();
        assert_eq!(report_digest(&expert), EXPERT_SEED1, "{expert}");
        let timed = drive_timed(&track, None, &mut Pilot::Expert, 9.0, 1.0, &custom, |_| Ok(())).unwrap();
        assert_eq!(timed.report, expert);

        // A drive with interventions, seen through the camera.
        let round = Track::from_centre_line(&circle(42.0)).unwrap();
        let world = World::new(&round, 1);
        let straight = drive(&round, Some(&world), &mut Pilot::Camera(&mut Constant(0.0)), 9.0, 0.5, |_| Ok(())).unwrap();
        assert_eq!(straight.interventions.len(), 14);
        assert_eq!(report_digest(&straight), STRAIGHT_ON_A_CIRCLE, "{straight}");

        // An int8 network steering from the frames.
        let blob = host::zoo::pilotnet_random(3).to_bytes();
        let mut model = ModelDriver::new(&blob).unwrap();
        let track2 = Track::generate(2);
        let world2 = World::new(&track2, 2);
        let random = drive_timed(&track2, Some(&world2), &mut Pilot::Camera(&mut model), 9.0, 0.05, &ideal, |_| Ok(())).unwrap();
        assert_eq!(report_digest(&random.report), RANDOM_PILOTNET_SEED2, "{}", random.report);
        assert_eq!((random.decisions.count, random.decisions.mean_latency_s()), (35, 0.0));

        // The recorder's drive and labels, and a whole recording's log and images.
        let mut labels = Vec::new();
        let rec = drive_with_drift(&Track::generate(3), 3, 9.0, 0.5, |_, l| {
            labels.push(l);
            Ok(())
        })
        .unwrap();
        assert_eq!(report_digest(&rec), DRIFT_SEED3, "{rec}");
        assert_eq!(digest(format!("{labels:?}").as_bytes()), DRIFT_SEED3_LABELS);
        let tmp = tempfile::tempdir().unwrap();
        record(&record_options(&tmp.path().join("a")), |_, _| {}).unwrap();
        assert_eq!(recording_digest(&tmp.path().join("a")), RECORDING_SEEDS_4_5);
        let ideal_rec = RecordTiming { period_ns: 100_000_000, label_latency_ns: 0, source: "test".into() };
        record_timed(&record_options(&tmp.path().join("b")), &ideal_rec, |_, _| {}).unwrap();
        assert_eq!(recording_digest(&tmp.path().join("b")), RECORDING_SEEDS_4_5);
    }

    /// Steers full right for frames captured before `until` seconds, straight after; `steer`
    /// without a time is refused, so the loop must give the capture time.
    struct RightUntil {
        until: f64,
        captures: RefCell<Vec<f64>>,
    }

    impl Driver for RightUntil {
        fn steer(&mut self, _frame: &Frame) -> anyhow::Result<f32> {
            anyhow::bail!("this driver needs the capture time")
        }

        fn steer_at(&mut self, _frame: &Frame, time: f64) -> anyhow::Result<f32> {
            self.captures.borrow_mut().push(time);
            Ok(if time < self.until { 1.0 } else { 0.0 })
        }
    }

    /// The car from `start` with the wheels at 0 until `on`, at 1 until `off`, then at 0 again,
    /// at time `t`: the exact arcs of the bicycle model, driven in one piece per stretch.
    fn expected_pose(start: Pose, speed: f64, on: f64, off: f64, t: f64) -> Pose {
        let mut car = Car::new(start, speed);
        let mut at = 0.0;
        for (until, steering) in [(on, 0.0), (off, 1.0), (f64::INFINITY, 0.0)] {
            let end = until.min(t);
            if end > at {
                car.step(steering, end - at);
                at = end;
            }
        }
        car.pose
    }

    #[test]
    fn a_command_turns_the_wheels_exactly_latency_after_its_capture_and_holds_for_the_period() {
        // 0.235 s of latency lands between physics steps; frames at 0 and 0.3 s steer right, the
        // one at 0.6 s straight: the wheels are right from 0.235 s to 0.835 s.
        let (period, latency, speed) = (0.3, 0.235, 1.0);
        let track = Track::from_centre_line(&circle(200.0)).unwrap();
        let world = World::new(&track, 1);
        let timing = Timing::custom(period, latency).unwrap();
        let mut pilot = RightUntil { until: 0.5, captures: RefCell::new(Vec::new()) };
        let mut seen: Vec<(f64, Pose, f32)> = Vec::new();
        let laps = 2.5 * speed / track.length();
        let timed = drive_timed(&track, Some(&world), &mut Pilot::Camera(&mut pilot), speed, laps, &timing, |tick| {
            seen.push((tick.time, tick.session.car().pose, tick.session.car().steering));
            Ok(())
        })
        .unwrap();
        let report = timed.report;
        assert!(report.interventions.is_empty(), "{report}");
        assert!((2.5..2.7).contains(&report.elapsed_s), "{report}");
        let captures = pilot.captures.borrow().clone();
        assert_eq!(captures.len(), 9, "{captures:?}");
        let start = seen[0].1;
        let (on, off) = (latency, 2.0 * period + latency);
        for (k, (time, pose, wheels)) in seen.iter().enumerate() {
            assert!((time - k as f64 * period).abs() < 1e-12 && (captures[k] - time).abs() < 1e-12, "capture {k} at {time} s");
            let want = expected_pose(start, speed, on, off, *time);
            assert!((pose.x - want.x).abs() < 1e-9 && (pose.y - want.y).abs() < 1e-9, "capture {k}: {pose:?} vs {want:?}");
            let right = (on..off).contains(time);
            assert_eq!(*wheels, if right { 1.0 } else { 0.0 }, "capture {k} at {time} s");
        }
        // One path point per 0.1 s tick, after it.
        for (k, p) in report.path.iter().enumerate().skip(1) {
            let want = expected_pose(start, speed, on, off, k as f64 * 0.1);
            assert!((p.x - want.x).abs() < 1e-9 && (p.y - want.y).abs() < 1e-9, "tick {k}: {p:?} vs {want:?}");
        }
        // Had the command landed one physics step (10 ms) later, the car would be elsewhere.
        let late = expected_pose(start, speed, on + 0.01, off + 0.01, 2.5);
        let last = report.path[25];
        assert!((last.x - late.x).hypot(last.y - late.y) > 1e-4);
        // Commands land at k * period + latency, those before the drive's end are counted.
        let landed = (0..captures.len()).filter(|&k| k as f64 * period + latency < report.elapsed_s - 1e-9).count();
        assert_eq!(timed.decisions.count, landed as u64);
        assert!((timed.decisions.mean_latency_s() - latency).abs() < 1e-12);
    }

    #[test]
    fn the_loop_decides_as_often_and_as_late_as_each_board_allows() {
        let blob = host::zoo::pilotnet_random(1).to_bytes();
        let model = Model::parse(&blob).unwrap();
        let track = Track::generate(1);
        for board in BOARDS {
            for pipeline in [Pipeline::Sequential, Pipeline::Overlapped] {
                let timing = Timing::board(board, &model, pipeline, false).unwrap();
                let predicted = board.frame_timing(&model, pipeline).unwrap();
                let timed = drive_timed(&track, None, &mut Pilot::Expert, 9.0, 1.0, &timing, |_| Ok(())).unwrap();
                let d = timed.decisions;
                assert!(d.count > 40, "{}: {d:?}", board.name);
                assert_eq!(d.per_second(), 1e9 / predicted.period_ns as f64, "{} {pipeline:?}", board.name);
                assert!((d.per_second() - predicted.decisions_per_second() as f64).abs() < 1e-3);
                assert!((d.mean_latency_s() - predicted.latency_ns as f64 / 1e9).abs() < 1e-12, "{} {pipeline:?}", board.name);
            }
        }
        // The Black Pill is about one decision a second, each most of a second late.
        let bp = Timing::board(&BLACKPILL, &model, Pipeline::Sequential, false).unwrap();
        assert!((0.5..2.0).contains(&bp.slot.decisions_per_second()) && bp.slot.latency_ns > 500_000_000, "{bp}");
        assert!(format!("{bp}").starts_with("blackpill (sequential): "), "{bp}");
    }

    /// Steers straight and says it counted `counted` instructions for every frame.
    struct Counting(Counted);

    impl Driver for Counting {
        fn steer(&mut self, _frame: &Frame) -> anyhow::Result<f32> {
            Ok(0.0)
        }

        fn counted(&self) -> Option<Counted> {
            Some(self.0)
        }
    }

    #[test]
    fn with_the_firmware_each_frame_is_timed_by_its_own_instruction_counts() {
        let blob = host::zoo::pilotnet_random(1).to_bytes();
        let model = Model::parse(&blob).unwrap();
        let given = model.def().input.preprocess.unwrap();
        let front = BLACKPILL.front_end(&model).unwrap();
        let frames = front.frames;
        let predicted_network = FrameCost::of(&model, Some(&frames)).network().total();
        let predicted_given = FrameCost::of(&model, Some(&given)).preprocess.total();
        let timing = Timing::board(&BLACKPILL, &model, Pipeline::Sequential, true).unwrap();
        let track = Track::generate(2);
        let world = World::new(&track, 2);
        let drive_with =
            |counted: Counted| drive_timed(&track, Some(&world), &mut Pilot::Camera(&mut Counting(counted)), 9.0, 0.3, &timing, |_| Ok(())).unwrap().decisions;
        // Counts equal to the prediction give the predicted timing exactly.
        let as_predicted = drive_with(Counted { network: predicted_network, preprocess: predicted_given });
        assert_eq!(as_predicted.per_second(), timing.slot.decisions_per_second());
        assert!((as_predicted.mean_latency_s() - timing.slot.latency_ns as f64 / 1e9).abs() < 1e-12);
        // A network that counts twice the instructions is timed so.
        let doubled = drive_with(Counted { network: 2 * predicted_network, preprocess: predicted_given });
        let cost = FrameCost::of(&model, Some(&frames));
        let work = BLACKPILL.work_measured(&cost, &frames, 2 * predicted_network, cost.preprocess.total());
        let slow = frame_timing(&front.camera, work, Pipeline::Sequential);
        assert_eq!(doubled.per_second(), 1e9 / slow.period_ns as f64);
        assert!((doubled.mean_latency_s() - slow.latency_ns as f64 / 1e9).abs() < 1e-12);
        assert!(slow.latency_ns > timing.slot.latency_ns + 400_000_000, "{} ms", slow.latency_ns / 1_000_000);
        // Without the firmware's counts the prediction stands.
        let unmeasured = Timing::board(&BLACKPILL, &model, Pipeline::Sequential, false).unwrap();
        assert_eq!(unmeasured.slot(Some(Counted { network: 1, preprocess: 1 })), unmeasured.slot);
    }

    #[test]
    fn the_recorder_takes_frames_at_the_period_and_labels_them_latency_later() {
        let track = Track::generate(3);
        let (period, latency) = (300_000_000u64, 250_000_000u64);
        let timing = RecordTiming { period_ns: period, label_latency_ns: latency, source: "test".into() };
        let mut events: Vec<(u64, Sample)> = Vec::new();
        let report = sample_drive_with_drift(&track, 3, 9.0, 0.3, &timing, |session, sample| {
            events.push((session.now_ns(), sample));
            Ok(())
        })
        .unwrap();
        let frames: Vec<u64> = events.iter().filter(|e| e.1 == Sample::Frame).map(|e| e.0).collect();
        let labels: Vec<(u64, f32)> = events.iter().filter_map(|e| if let Sample::Label(l) = e.1 { Some((e.0, l)) } else { None }).collect();
        assert!(frames.len() > 20);
        assert_eq!(frames.len(), labels.len(), "every frame gets its label");
        for (k, (&f, &(l, _))) in frames.iter().zip(&labels).enumerate() {
            assert_eq!((f, l), (k as u64 * period, k as u64 * period + latency), "frame {k}");
        }
        assert!(report.elapsed_s * 1e9 >= *frames.last().unwrap() as f64 + latency as f64);

        // The label is the expert's command where the car is then: the same drive sampled
        // every 50 ms with no latency gives the same commands at those moments (up to the
        // rounding of arcs split at other moments); a neighbouring moment does not.
        let fine = RecordTiming { period_ns: 50_000_000, label_latency_ns: 0, source: "test".into() };
        let mut at: Vec<(u64, f32)> = Vec::new();
        sample_drive_with_drift(&track, 3, 9.0, 0.4, &fine, |session, sample| {
            if let Sample::Label(l) = sample {
                at.push((session.now_ns(), l));
            }
            Ok(())
        })
        .unwrap();
        let command_at = |t: u64| at.iter().find(|p| p.0 == t).map(|p| p.1).unwrap();
        let (mut same, mut shifted) = (0.0f32, 0.0f32);
        for &(t, label) in &labels {
            same = same.max((label - command_at(t)).abs());
            shifted = shifted.max((label - command_at(t - 50_000_000)).abs());
        }
        assert!(same < 1e-5 && shifted > 1e-3, "{same} {shifted}");
    }

    #[test]
    fn the_recording_says_how_it_was_timed_and_names_files_after_the_period() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("rec");
        let cli = Cli::try_parse_from([
            "pilot",
            "sim",
            "record",
            "--seed",
            "4",
            "--laps",
            "0.05",
            "--board",
            "blackpill",
            "--arch",
            "pilotnet",
            "--label-latency",
            "board",
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
        run(cli).unwrap();
        let info = std::fs::read_to_string(out.join("recording.toml")).unwrap();
        assert!(info.contains("blackpill (sequential)") && info.contains("arch pilotnet"), "{info}");
        let model = host::zoo::random(&host::nn::spec::NetSpec::load("pilotnet").unwrap(), 0).unwrap().to_bytes();
        let slot = Timing::board(&BLACKPILL, &Model::parse(&model).unwrap(), Pipeline::Sequential, false).unwrap().slot;
        assert!(info.contains(&format!("a frame every {} s", slot.period_ns as f64 / 1e9)), "{info}");
        assert!(info.contains(&format!("command {} s after it", slot.latency_ns as f64 / 1e9)), "{info}");
        // File names step by the period on the recording's clock.
        let csv = std::fs::read_to_string(out.join("driving_log.csv")).unwrap();
        let millis: Vec<i64> = csv
            .lines()
            .map(|l| {
                let name = Path::new(l.split(", ").next().unwrap()).file_stem().unwrap().to_str().unwrap().to_string();
                let parts: Vec<i64> = name.split('_').skip(4).map(|p| p.parse().unwrap()).collect();
                ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + parts[3]
            })
            .collect();
        assert!(millis.len() >= 3, "{csv}");
        for (k, m) in millis.iter().enumerate() {
            assert_eq!(m - millis[0], (k as u64 * slot.period_ns / 1_000_000) as i64);
        }
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn drive_command_names_its_timing_and_refuses_what_it_cannot_time() {
        let tmp = tempfile::tempdir().unwrap();
        let blob = tmp.path().join("random.pnn8");
        std::fs::write(&blob, host::zoo::pilotnet_random(2).to_bytes()).unwrap();
        let blob = blob.to_str().unwrap();
        run(parse(&["pilot", "sim", "drive", "--blob", blob, "--seed", "1", "--laps", "0.02", "--speeds", "3,9"])).unwrap();
        run(parse(&["pilot", "sim", "drive", "--blob", blob, "--seed", "1", "--laps", "0.01", "--board", "ideal"])).unwrap();
        run(parse(&["pilot", "sim", "drive", "--driver", "expert", "--seed", "1", "--laps", "0.05", "--period", "0.3", "--latency", "0.2"])).unwrap();

        let err = |args: &[&str]| format!("{:#}", run(parse(args)).unwrap_err());
        let e = err(&["pilot", "sim", "drive", "--blob", blob, "--board", "f411"]);
        assert!(e.contains("f411") && e.contains("ideal, blackpill, f746, h743"), "{e}");
        let e = err(&["pilot", "sim", "drive", "--driver", "expert", "--board", "blackpill"]);
        assert!(e.contains("expert") && e.contains("--period"), "{e}");
        let e = err(&["pilot", "sim", "drive", "--driver", "expert", "--period", "0"]);
        assert!(e.contains("period"), "{e}");
        assert!(Cli::try_parse_from(["pilot", "sim", "drive", "--driver", "expert", "--latency", "0.2"]).is_err());
        assert!(Cli::try_parse_from(["pilot", "sim", "drive", "--driver", "expert", "--board", "h743", "--period", "1"]).is_err());
        assert!(Cli::try_parse_from(["pilot", "sim", "drive", "--driver", "expert", "--speed", "3", "--speeds", "3,5"]).is_err());
        let out = tmp.path().join("rec");
        let e = err(&["pilot", "sim", "record", "--out", out.to_str().unwrap(), "--label-latency", "board"]);
        assert!(e.contains("--board"), "{e}");
        let e = err(&["pilot", "sim", "record", "--out", out.to_str().unwrap(), "--label-latency", "soon"]);
        assert!(e.contains("soon"), "{e}");
        let e = err(&["pilot", "sim", "record", "--out", out.to_str().unwrap(), "--board", "blackpill"]);
        assert!(e.contains("needs a network"), "{e}");
    }

    #[test]
    fn compare_times_each_network_on_every_board_and_charts_the_trade_off() {
        use host::sim::compare::{candidate, CompareOptions};
        let fast = host::zoo::random(&host::nn::spec::NetSpec::load("fastnet").unwrap(), 1).unwrap().to_bytes();
        let slow = host::zoo::pilotnet_random(1).to_bytes();
        let opts = CompareOptions { seeds: vec![1], laps: 0.02, speed: 9.0, board: &BLACKPILL };
        let (f, p) = (candidate("fast", &fast, &opts).unwrap(), candidate("pilotnet", &slow, &opts).unwrap());
        assert_eq!(f.rates.len(), BOARDS.len());
        for (c, blob) in [(&f, &fast), (&p, &slow)] {
            let model = Model::parse(blob).unwrap();
            let t = BLACKPILL.frame_timing(&model, Pipeline::Sequential).unwrap();
            assert_eq!(c.rates[0].decisions_per_second, t.decisions_per_second() as f64, "{}", c.name);
            assert_eq!(c.macs, model.macs());
            assert!((0.0..=100.0).contains(&c.autonomy));
        }
        assert!(f.rates[0].decisions_per_second > 10.0 * p.rates[0].decisions_per_second);
        assert!(f.instructions < p.instructions / 20);

        let tmp = tempfile::tempdir().unwrap();
        let (a, b, png) = (tmp.path().join("fast.pnn8"), tmp.path().join("slow.pnn8"), tmp.path().join("t.png"));
        std::fs::write(&a, &fast).unwrap();
        std::fs::write(&b, &slow).unwrap();
        let args =
            ["pilot", "sim", "compare", "--blob", a.to_str().unwrap(), b.to_str().unwrap(), "--seed", "1", "--laps", "0.02", "--png", png.to_str().unwrap()];
        run(parse(&args)).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (host::plot::tradeoff::WIDTH, host::plot::tradeoff::HEIGHT));
        assert!(img.pixels().filter(|p| p.0 != [255, 255, 255]).count() > 5_000, "something is drawn");
        let e = format!("{:#}", run(parse(&["pilot", "sim", "compare", "--blob", a.to_str().unwrap(), "--board", "esp32"])).unwrap_err());
        assert!(e.contains("esp32") && e.contains("blackpill"), "{e}");
    }
}
