//! `pilot serve`: the Udacity simulator drives with a `pilot` model, through the protocol of the
//! course's `drive.py` (see `host/src/serve/`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use clap::{ArgGroup, Args};
use indicatif::{ProgressBar, ProgressStyle};

use super::network::NetworkArgs;
use crate::nn::driver::FloatDriver;
use crate::qemu::FirmwareDriver;
use crate::serve::record::Recorder;
use crate::serve::server::Steered;
use crate::serve::{serve, Driver, Level, Observer, Options};
use crate::sim::drive::ModelDriver;
use crate::train::checkpoint::RunDir;

const HELP: &str = "\
Start it, then start the Udacity simulator, pick a track and click AUTONOMOUS MODE: the simulator
connects to ws://127.0.0.1:4567/socket.io/ and sends its centre camera (320x160 JPEG) and speed;
every frame gets the model's steering and a throttle from drive.py's PI controller (kp 0.1,
ki 0.002) holding --speed. The model sees the frame through its own preprocessing (crop, resize,
colour), exactly as in training. Holding W or S in the simulator drives by hand (manual mode).
This is drive.py's protocol as python-socketio 4.6 / python-engineio 3.13 speak it, the versions
the simulator works with. Stop with Ctrl-C (a recording is consistent at every frame).

Examples:
  pilot serve --blob models/pilotnet/pilotnet.pnn8
  pilot serve --model runs/pilotnet --speed 15
  pilot serve --blob models/pilotnet/pilotnet.pnn8 --firmware qemu --speed 5
  pilot serve --blob pilotnet.pnn8 --record runs/sim-drive       # then: pilot train driving --data runs/sim-drive
  pilot serve --blob pilotnet.pnn8 --host 0.0.0.0 --port 4567    # a simulator on another machine";

#[derive(Args, Debug)]
#[command(after_help = HELP)]
#[command(group = ArgGroup::new("who").required(true).args(["blob", "model"]))]
pub struct ServeArgs {
    #[command(flatten)]
    pub net: NetworkArgs,
    /// Address to listen on. 127.0.0.1 accepts this machine only; 0.0.0.0 accepts every
    /// network (for a simulator on another machine).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (the simulator connects to 4567; 0 picks a free one).
    #[arg(long, default_value_t = 4567)]
    pub port: u16,
    /// Speed the throttle controller holds, in mph (the simulator's unit; drive.py's 9).
    #[arg(long, default_value_t = crate::serve::command::SET_SPEED_MPH)]
    pub speed: f64,
    /// Record every frame in DIR as a Udacity recording: IMG/center_*.jpg (the simulator's
    /// JPEG) and driving_log.csv with the steering and throttle sent back.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Replace the recording (driving_log.csv, recording.toml, IMG/) in a --record folder that
    /// is not empty.
    #[arg(long, requires = "record")]
    pub force: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    ensure!(args.speed.is_finite() && args.speed >= 0.0, "--speed must be a speed in mph, not {}", args.speed);
    args.net.check()?;
    ensure!(!args.force || args.record.is_some(), "--force replaces a --record folder's recording: give --record");
    let blob = args.net.read_blob()?;
    let scratch = tempfile::tempdir()?;
    let (driver, what): (Box<dyn Driver + Send + '_>, String) = match (&blob, &args.net.model) {
        (Some((path, _)), _) if args.net.firmware.is_some() => {
            println!("building the firmware for {} ...", path.display());
            let firmware = FirmwareDriver::new(path, scratch.path())?;
            (Box::new(firmware), format!("{} on the firmware in QEMU", path.display()))
        }
        (Some((path, bytes)), _) => {
            let int8 = ModelDriver::new(bytes).with_context(|| path.display().to_string())?;
            (Box::new(int8), format!("{} (int8, the reference)", path.display()))
        }
        (_, Some(dir)) => {
            let float = FloatDriver::load(&RunDir::new(dir)).with_context(|| format!("cannot load the training run {}", dir.display()))?;
            (Box::new(float), format!("{} (float, best checkpoint)", dir.display()))
        }
        _ => anyhow::bail!("give --blob or --model"),
    };
    let recorder = match &args.record {
        Some(dir) => Some(Recorder::create(dir, args.force, &format!("pilot serve: {what} driving the Udacity simulator at {} mph", args.speed))?),
        None => None,
    };
    let listener = TcpListener::bind((args.host.as_str(), args.port)).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another server, drive.py or pilot serve, is using it: stop that one or pass --port)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {}:{}: {e}{hint}", args.host, args.port)
    })?;
    let addr = listener.local_addr()?;
    println!("pilot serve: {what} steers, throttle holds {} mph", args.speed);
    if let Some(rec) = &recorder {
        println!("recording every frame to {}", rec.csv_path().display());
    }
    if !addr.ip().is_loopback() {
        println!("note: listening on {}, so other machines can connect and drive", addr.ip());
    }
    println!("listening on ws://{addr}/socket.io/ (start the simulator and click AUTONOMOUS MODE; Ctrl-C stops)");
    let console = Console::new();
    let options = Options { set_speed: args.speed, ..Options::default() };
    serve(listener, driver, recorder, options, &console)
}

/// Log lines with the time since start, and a status line with the latest frame.
struct Console {
    bar: ProgressBar,
    started: Instant,
}

impl Console {
    fn new() -> Console {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} frames ({per_sec}) {msg}") {
            bar.set_style(style);
        }
        bar.set_message("waiting for the simulator");
        bar.enable_steady_tick(Duration::from_millis(200));
        Console { bar, started: Instant::now() }
    }
}

impl Observer for Console {
    fn log(&self, level: Level, message: &str) {
        let tag = match level {
            Level::Info => "",
            Level::Warn => "warning: ",
            Level::Error => "error: ",
        };
        let t = self.started.elapsed().as_secs_f64();
        self.bar.suspend(|| println!("[{t:8.1} s] {tag}{message}"));
    }

    fn frame(&self, s: &Steered<'_>) {
        self.bar.inc(1);
        self.bar.set_message(format!("| session {}: steering {:+.3}, throttle {:+.3}, {:.1} mph", s.session, s.steering, s.throttle, s.speed));
    }
}
