//! Command-line interface: one module per subcommand.

pub mod demo;
pub mod report;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "pilot",
    version,
    about = "Train camera-to-steering CNNs on the PC and run them int8 on a microcontroller",
    long_about = None,
    after_help = "Examples:\n  pilot demo                      run the main job end to end\n  pilot report --blob models/pilotnet.pnn8   parameters, MACs, memory plan, chip fit"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the main job: build the shipped network shapes, plan their memory, preprocess a
    /// camera frame and run the int8 reference.
    Demo(demo::DemoArgs),
    /// Describe a model blob: layers, parameters, MACs, memory plan, chip fit.
    Report(report::ReportArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Report(a) => report::run(a),
    }
}
