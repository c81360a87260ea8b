//! The `the-eye` binary: parses the command line and hands it to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = the_eye::cli::Cli::parse();
    the_eye::telemetry::logs::init(cli.log_format);
    the_eye::cli::run(cli).await
}
