//! The command line: `serve`, `migrate`, `process`, `import`, `schema` and `key create`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::auth::{Scope, Scopes, keys};
use crate::clock::SystemClock;
use crate::config::{DatabaseSettings, IngestSettings, Limits, ProcessingSettings, Settings};
use crate::ingest::import::{ImportContext, import_ndjson};
use crate::ingest::registry::Registry;
use crate::{db, graphql, processing, server};

/// The Eye: self-hosted event collection.
#[derive(Debug, Parser)]
#[command(name = "the-eye", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and run the server (on first start, prints an admin key).
    Serve(Settings),
    /// Apply pending database migrations.
    Migrate(DatabaseSettings),
    /// Run the background job until no unprocessed event is left, and report.
    Process {
        /// Database connection.
        #[command(flatten)]
        database: DatabaseSettings,
        /// Job settings.
        #[command(flatten)]
        processing: ProcessingSettings,
    },
    /// Load events from an NDJSON file (one `EventInput` object per line), validated and stored
    /// exactly as `recordEvents` would, in large transactions.
    Import(ImportArgs),
    /// Print the GraphQL schema (SDL), as checked in at `schema.graphql`.
    Schema,
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key for an application (created if it does not exist). The key is printed
    /// once, as the last line.
    Create(CreateKey),
}

/// Arguments of `key create`.
#[derive(Debug, Args)]
pub struct CreateKey {
    /// The application's name.
    #[arg(long)]
    pub app: String,
    /// A scope of the key; repeat for several (`--scope ingest --scope read`).
    #[arg(long = "scope", value_enum, required = true, num_args = 1..)]
    pub scopes: Vec<Scope>,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The NDJSON file; `-` reads standard input.
    pub file: PathBuf,
    /// The application the events are recorded for (created if it does not exist).
    #[arg(long)]
    pub app: String,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Validation settings; `--max-commit-events` is the number of events per transaction.
    #[command(flatten)]
    pub ingest: IngestSettings,
    /// Limits on fields and payloads.
    #[command(flatten)]
    pub limits: Limits,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(settings) => {
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|e| anyhow::anyhow!("listening on {}: {e}", settings.listen))?;
            server::serve(settings, listener, shutdown_signal()).await
        }
        Command::Migrate(database) => {
            let conn = db::connect(&database).await?;
            db::migrate(&conn).await?;
            println!(
                "migrations applied to {}",
                db::redact(&database.database_url)
            );
            Ok(())
        }
        Command::Process {
            database,
            processing,
        } => {
            let conn = db::connect(&database).await?;
            db::migrate(&conn).await?;
            let conn = db::connect_writer(&database, &conn, db::Checkpoints::OnCommit).await?;
            let report = processing::run_until_idle(&conn, processing.process_batch_size)
                .await
                .map_err(|e| anyhow::anyhow!("processing events: {e:?}"))?;
            println!(
                "processed {} events in {} batches ({} session updates) in {} ms",
                report.events_processed,
                report.batches,
                report.sessions_updated,
                report.duration_ms
            );
            Ok(())
        }
        Command::Import(args) => import(args).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Key(KeyCommand::Create(args)) => {
            let conn = db::connect(&args.database).await?;
            db::migrate(&conn).await?;
            let key = keys::create_key(&conn, &args.app, Scopes::of(args.scopes))
                .await
                .map_err(|e| anyhow::anyhow!("creating the key: {e:?}"))?;
            println!(
                "created key {}… for application `{}` with scopes {}; it is shown only once:",
                key.prefix, key.application_name, key.scopes
            );
            println!("{}", key.secret);
            Ok(())
        }
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let conn = db::connect(&args.database).await?;
    db::migrate(&conn).await?;
    let app = keys::ensure_application(&conn, &args.app)
        .await
        .map_err(|e| anyhow::anyhow!("finding the application: {e:?}"))?;
    let registry = Registry::load(conn.clone())
        .await
        .map_err(|e| anyhow::anyhow!("loading the event-type registry: {e:?}"))?;
    let source: Box<dyn std::io::BufRead + Send> = if args.file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", args.file.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, file))
    };
    let write_db = db::connect_writer(&args.database, &conn, db::Checkpoints::OnCommit).await?;
    let context = ImportContext {
        application_id: app.id,
        types: registry.snapshot(),
        limits: args.limits,
        ingest: args.ingest,
        clock: Arc::new(SystemClock),
    };
    let started = std::time::Instant::now();
    let report = import_ndjson(&write_db, source, context)
        .await
        .map_err(|e| anyhow::anyhow!("importing: {e:?}"))?;
    for (line, why) in &report.unreadable_lines {
        eprintln!("line {line}: not an event: {why}");
    }
    println!(
        "read {} lines in {} ms: {} accepted, {} duplicates, {} rejected, {} unreadable",
        report.lines,
        started.elapsed().as_millis(),
        report.accepted,
        report.duplicates,
        report.rejected,
        report.unreadable
    );
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
