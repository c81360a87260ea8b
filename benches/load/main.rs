//! The Eye's benchmark harness (`cargo bench --bench load -- --help`); see BENCHMARKS.md.
//!
//! - `ingest`: `recordEvents` load at an offered rate or at saturation, ack latency, processing
//!   lag, errors by code, server memory, bytes written and CPU per event, the raw no-index
//!   rate of the same machine, what PostgreSQL's backends were doing (running, waiting on
//!   locks, the disk or the service), and a check that what was acknowledged was stored;
//! - `generate`: an NDJSON file of historical events, to seed a database with `the-eye import`;
//! - `query`: latency of the data team's queries on a seeded database;
//! - `baseline`: the same rows inserted straight into SQLite, to compare the service with what
//!   the storage itself can take on this machine.

mod baseline;
mod client;
mod cost;
mod events;
mod generate;
mod ingest;
mod pg_waits;
mod query;
mod stats;
mod subscribers;
mod target;

use clap::{Parser, Subcommand};

/// Load generator and query benchmark for The Eye.
#[derive(Debug, Parser)]
#[command(name = "the-eye-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send recordEvents batches and report throughput, latency, lag and memory.
    Ingest(ingest::IngestArgs),
    /// Write an NDJSON file of events for `the-eye import`.
    Generate(generate::GenerateArgs),
    /// Measure query latencies on a seeded database.
    Query(query::QueryArgs),
    /// Insert the same rows straight into SQLite and report rows/s.
    Baseline(baseline::BaselineArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` to every benchmark binary; it means nothing here.
    let args = std::env::args().filter(|a| a != "--bench");
    match Cli::parse_from(args).command {
        Command::Ingest(args) => ingest::run(args).await,
        Command::Generate(args) => generate::run(args),
        Command::Query(args) => query::run(args).await,
        Command::Baseline(args) => baseline::run(args).await,
    }
}
