//! Command-line interface: one module per subcommand.

pub mod bench;
pub mod bench_firmware;
pub mod bench_train;
pub mod demo;
pub mod eval;
pub mod explain;
pub mod export;
pub mod network;
pub mod quantize;
pub mod report;
pub mod serve;
pub mod sim;
pub mod train;
pub mod transfer_compare;
pub mod verify;
pub mod zoo;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "pilot",
    version,
    about = "Train camera-to-steering CNNs on the PC and run them int8 on a microcontroller",
    long_about = None,
    after_help = "Examples:\n  pilot demo                                   the main job end to end\n  pilot sim record --seed 1 --laps 2 --out runs/sim-data\n  pilot train driving --data runs/sim-data --out runs/pilotnet\n  pilot train signs --data GTSRB/ --init runs/cifar --mode feature-extraction --out runs/sign-fe\n  pilot transfer-compare --from runs/cifar --data GTSRB/ --samples 2000 --out runs/transfer\n  pilot quantize --model runs/pilotnet --out runs/pilotnet-int8\n  pilot export --model runs/pilotnet-int8 --onnx pilotnet.int8.onnx --blob pilotnet.pnn8\n  pilot sim drive --blob pilotnet.pnn8 --seeds 1,2,3\n  pilot serve --blob pilotnet.pnn8              the Udacity simulator drives with it\n  pilot explain --blob pilotnet.pnn8 --seed 1 --out runs/explain   what the network looks at\n  pilot report --blob models/pilotnet.pnn8     parameters, MACs, memory plan, chip fit"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the main job: simulator data, PilotNet training, int8, ONNX, tract and firmware
    /// checks, and driving unseen tracks.
    Demo(demo::DemoArgs),
    /// Describe a model blob: layers, parameters, MACs, memory plan, chip fit.
    Report(report::ReportArgs),
    /// Write the shipped architectures with RANDOM weights (test vectors).
    Zoo(zoo::ZooArgs),
    /// Train a network (driving, traffic signs, any image classification set).
    Train(train::TrainArgs),
    /// Post-training int8 quantization: calibrate, quantize, compare float and int8.
    Quantize(quantize::QuantizeArgs),
    /// Write the int8 network as ONNX (QOperator form) and as a firmware blob.
    Export(export::ExportArgs),
    /// Check that the reference (blob) and tract (ONNX) agree byte for byte, layer by layer.
    Verify(verify::VerifyArgs),
    /// Transfer learning lab: feature extraction, fine-tuning and training from scratch, each
    /// with 1- and 2-dense heads, on the same data; one table.
    TransferCompare(transfer_compare::CompareArgs),
    /// A trained model's metrics: MAE against the trivial baselines, or accuracy and confusions.
    Eval(eval::EvalArgs),
    /// Driving simulator: record training data, drive and score a model.
    Sim(sim::SimArgs),
    /// Drive the Udacity simulator with a model: drive.py's Socket.IO server on port 4567.
    Serve(serve::ServeArgs),
    /// What a driving network looks at: saliency (VisualBackProp) over the camera frames of a
    /// recording or a simulator drive, as pictures and a GIF.
    Explain(explain::ExplainArgs),
    /// Measure speed (prints numbers).
    Bench(bench::BenchArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Report(a) => report::run(a),
        Command::Zoo(a) => zoo::run(a),
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::TransferCompare(a) => transfer_compare::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Export(a) => export::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Bench(a) => bench::run(a),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    /// clap checks its definitions (clashing names, groups naming missing arguments) only in
    /// debug builds; the tests run in release, so ask for the check.
    #[test]
    fn every_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    fn quantize_options(args: &[&str]) -> crate::quant::ptq::PtqOptions {
        let cli = super::Cli::try_parse_from(["pilot", "quantize", "--model", "r", "--out", "o"].iter().chain(args)).unwrap();
        match cli.command {
            super::Command::Quantize(a) => a.options(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn qat_augments_unless_told_not_to() {
        assert!(quantize_options(&[]).qat.is_none());
        assert!(quantize_options(&["--qat", "2"]).qat.unwrap().augment);
        assert!(!quantize_options(&["--qat", "2", "--qat-no-augment"]).qat.unwrap().augment);
        // Without --qat there is nothing to fine-tune; the flag alone is refused.
        assert!(super::Cli::try_parse_from(["pilot", "quantize", "--model", "r", "--out", "o", "--qat-no-augment"]).is_err());
    }
}
