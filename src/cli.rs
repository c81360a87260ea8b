//! The command line: `serve`, `migrate`, `process`, `import`, `send` (in `cli/send.rs`),
//! `schema`, and the administration of applications (`app …`) and API keys (`key …`); the data
//! lifecycle commands `erase`, `export` and `retention …` live in their own files below `cli/`.

pub mod send;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sea_orm::DatabaseConnection;

use crate::auth::keys::{KeyInfo, NewKey};
use crate::auth::{Scope, Scopes, applications, keys};
use crate::clock::SystemClock;
use crate::config::{DatabaseSettings, IngestSettings, Limits, ProcessingSettings, Settings};
use crate::domain::Allowlist;
use crate::entities::applications as app_entity;
use crate::error::AppError;
use crate::ingest::import::{ImportContext, import_ndjson};
use crate::ingest::registry::Registry;
use crate::telemetry::logs::LogFormat;
use crate::{db, graphql, processing, server, shutdown};

mod erase;
mod export;
mod retention;

/// The Eye: self-hosted event collection.
#[derive(Debug, Parser)]
#[command(name = "the-eye", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as human-readable `text` or as one JSON object per line (`json`).
    #[arg(long, global = true, env = "EYE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
    /// Send events from an NDJSON file (one `EventInput` object per line) to a running server
    /// through the SDK: batched, retried, re-runnable; rejected lines go to a file.
    Send(send::SendArgs),
    /// Print the GraphQL schema (SDL), as checked in at `schema.graphql`.
    Schema,
    /// Manage applications and their IP allowlists.
    #[command(subcommand)]
    App(AppCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Erase a session: its events and rejected events of every application, with every
    /// count adjusted and an audit entry.
    Erase(erase::EraseArgs),
    /// Stream events out as NDJSON (what `import` reads) or CSV.
    Export(export::ExportArgs),
    /// Per-application retention, and retention on demand.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
}

/// Application commands.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an application, optionally restricted to addresses and CIDR ranges.
    Create {
        /// Its unique name.
        name: String,
        /// An address or CIDR range its keys may be used from; repeat for several. Without
        /// any, its keys work from any address.
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// Database connection.
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// List applications with their allowlists.
    List {
        /// Database connection.
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Replace an application's allowlist (`--any` removes it).
    Allow {
        /// The application's name.
        name: String,
        /// Addresses and CIDR ranges its keys may be used from.
        #[arg(required_unless_present = "any", conflicts_with = "any")]
        cidrs: Vec<String>,
        /// Remove the allowlist: its keys work from any address.
        #[arg(long)]
        any: bool,
        /// Database connection.
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key for an application (created if it does not exist). The key is printed
    /// once, as the last line.
    Create(CreateKey),
    /// List keys (prefix, scopes, dates; never the secret), newest first.
    List {
        /// Only this application's keys.
        #[arg(long)]
        app: Option<String>,
        /// Database connection.
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Revoke a key, named by its id or prefix; it is refused from the next request on.
    Revoke(KeyRef),
    /// Issue a new key with the same application and scopes as an existing one, which keeps
    /// working until revoked. The new key is printed once, as the last line.
    Rotate(KeyRef),
}

/// A key named on the command line.
#[derive(Debug, Args)]
pub struct KeyRef {
    /// The key's id (`12`) or prefix (`eye_1a2b3c4d`, as `key list` shows it).
    pub key: String,
    /// Database connection.
    #[command(flatten)]
    pub database: DatabaseSettings,
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

async fn open(database: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let conn = db::connect(database).await?;
    db::migrate(&conn).await?;
    Ok(conn)
}

/// Service errors on the command line, with what was being done: the operator is trusted, so
/// the whole message is shown, and an internal error its whole cause chain.
fn fail(doing: &'static str) -> impl FnOnce(AppError) -> anyhow::Error {
    move |e| anyhow::Error::from(e).context(doing)
}

fn print_app(app: &app_entity::Model) -> anyhow::Result<()> {
    let allowlist = applications::allowlist_of(app).map_err(fail("reading the allowlist"))?;
    let allowed = allowlist.map_or("any address".to_string(), |a| a.entries().join(" "));
    println!("{}\t{}\t{}", app.id, app.name, allowed);
    Ok(())
}

fn print_key(key: &KeyInfo) {
    let date = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map_or("-".to_string(), |d| {
            crate::domain::timestamp::format_timestamp(&d)
        })
    };
    println!(
        "{}\t{}…\t{}\t{}\tcreated {}\tlast used {}\trevoked {}",
        key.id,
        key.prefix,
        key.application_name,
        key.scopes,
        date(Some(key.created_at)),
        date(key.last_used_at),
        date(key.revoked_at),
    );
}

fn print_new_key(key: &NewKey) {
    println!(
        "created key {}… for application `{}` with scopes {}; it is shown only once:",
        key.prefix, key.application_name, key.scopes
    );
    println!("{}", key.secret);
}

async fn run_app(command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Create {
            name,
            allow,
            database,
        } => {
            let conn = open(&database).await?;
            let allowlist = if allow.is_empty() {
                None
            } else {
                Some(Allowlist::parse(&allow)?)
            };
            let app = applications::create_application(&conn, &name, allowlist)
                .await
                .map_err(fail("creating the application"))?;
            print_app(&app)
        }
        AppCommand::List { database } => {
            let conn = open(&database).await?;
            let apps = applications::list_applications(&conn)
                .await
                .map_err(fail("listing applications"))?;
            apps.iter().try_for_each(print_app)
        }
        AppCommand::Allow {
            name,
            cidrs,
            any,
            database,
        } => {
            let conn = open(&database).await?;
            let allowlist = if any {
                None
            } else {
                Some(Allowlist::parse(&cidrs)?)
            };
            let app = find_app(&conn, &name).await?;
            let app = applications::set_allowlist(&conn, app.id, allowlist)
                .await
                .map_err(fail("setting the allowlist"))?;
            print_app(&app)
        }
    }
}

async fn find_app(conn: &DatabaseConnection, name: &str) -> anyhow::Result<app_entity::Model> {
    applications::find_by_name(conn, name)
        .await
        .map_err(fail("finding the application"))?
        .ok_or_else(|| anyhow::anyhow!("no application is called `{name}`"))
}

async fn run_key(command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create(args) => {
            let conn = open(&args.database).await?;
            let key = keys::create_key(&conn, &args.app, Scopes::of(args.scopes))
                .await
                .map_err(fail("creating the key"))?;
            print_new_key(&key);
            Ok(())
        }
        KeyCommand::List { app, database } => {
            let conn = open(&database).await?;
            let app_id = match app {
                Some(name) => Some(find_app(&conn, &name).await?.id),
                None => None,
            };
            let keys = keys::list_keys(&conn, app_id)
                .await
                .map_err(fail("listing keys"))?;
            keys.iter().for_each(print_key);
            Ok(())
        }
        KeyCommand::Revoke(args) => {
            let conn = open(&args.database).await?;
            let key = keys::find_key(&conn, &args.key)
                .await
                .map_err(fail("finding the key"))?;
            let key = keys::revoke_key(&conn, key.id)
                .await
                .map_err(fail("revoking the key"))?;
            print_key(&key);
            Ok(())
        }
        KeyCommand::Rotate(args) => {
            let conn = open(&args.database).await?;
            let key = keys::find_key(&conn, &args.key)
                .await
                .map_err(fail("finding the key"))?;
            let new = keys::rotate_key(&conn, key.id)
                .await
                .map_err(fail("rotating the key"))?;
            print_new_key(&new);
            Ok(())
        }
    }
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
                .with_context(|| format!("listening on {}", settings.listen))?;
            server::serve(settings, listener, shutdown::signal()).await
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
            let report = processing::run_until_idle(&conn, &processing)
                .await
                .map_err(fail("processing events"))?;
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
        Command::Send(args) => send::run(args).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::App(command) => run_app(command).await,
        Command::Key(command) => run_key(command).await,
        Command::Erase(args) => erase::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Retention(command) => retention::run(command).await,
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let conn = db::connect(&args.database).await?;
    db::migrate(&conn).await?;
    let app = applications::ensure_application(&conn, &args.app)
        .await
        .map_err(fail("finding the application"))?;
    let registry = Registry::load(conn.clone())
        .await
        .map_err(fail("loading the event-type registry"))?;
    let source: Box<dyn std::io::BufRead + Send> = if args.file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("opening {}", args.file.display()))?;
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
        .map_err(fail("importing"))?;
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
