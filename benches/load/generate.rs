//! `generate`: historical events as NDJSON, for `the-eye import`.

use std::io::Write;
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use clap::Args;

use crate::events::{Clock, EventGen, Mix};

/// Options of `generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Where to write the file (`-` for standard output).
    #[arg(long)]
    pub out: PathBuf,
    /// How many events.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Distinct sessions (about 50 events each by default for 10M events).
    #[arg(long, default_value_t = 200_000)]
    pub sessions: u64,
    /// Days the events are spread over, from 2021-01-01.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
    /// Share of invalid events.
    #[arg(long, default_value_t = 0.0)]
    pub invalid_share: f64,
    /// Share of repeated events.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_share: f64,
    /// Prefix of the event ids.
    #[arg(long, default_value = "seed")]
    pub run: String,
}

/// Writes the file.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let mix = Mix {
        sessions: args.sessions,
        invalid: args.invalid_share,
        duplicates: args.duplicate_share,
        clock: Clock::History {
            start: Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap(),
            days: args.days,
            events: args.events,
        },
        random_ids: false,
    };
    let mut generator = EventGen::new(mix, &args.run, 7);
    let out: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&args.out)?)
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    for _ in 0..args.events {
        out.write_all(generator.next_event().as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    let sent = generator.sent;
    eprintln!(
        "wrote {} events: {} new valid, {} invalid, {} repeated",
        args.events, sent.unique_valid, sent.invalid, sent.duplicates
    );
    Ok(())
}
