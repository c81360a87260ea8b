//! The `the-eye` binary: parses the command line and hands it to the library.

use clap::Parser;

/// mimalloc in place of the system allocator: the service allocates and frees many small
/// buffers per event (rows, strings, GraphQL values), and glibc's allocator spent a quarter of
/// an export's CPU in `malloc`, `free` and consolidating freed chunks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = the_eye::cli::Cli::parse();
    the_eye::telemetry::logs::init(cli.log_format);
    the_eye::cli::run(cli).await
}
