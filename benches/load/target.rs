//! The service under test: either spawned here (the release `the-eye serve` on a temporary or
//! given database, with an admin key made by `the-eye key create`) or an external one given by
//! URL and key. A spawned server's memory is read from `/proc/PID/status`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tempfile::TempDir;

/// Where the service is.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// An external server's base URL (e.g. http://127.0.0.1:8000); without it a server is spawned.
    #[arg(long)]
    pub url: Option<String>,
    /// API key for an external server (admin, or ingest + read).
    #[arg(long, env = "EYE_BENCH_KEY")]
    pub key: Option<String>,
    /// Database of the spawned server (default: a fresh SQLite file in a temporary directory).
    /// Also used to watch the job's backlog when given with `--url`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Spawn the server on a copy of this SQLite file (a seeded database, checkpointed, with no
    /// `-wal` beside it), made in the temporary directory and synced to disk before the server
    /// starts: every run starts from the same large file, and the copy's write-back does not
    /// land inside the run (it took a run at 1,000 events/s from an ack p99 of 14 ms to 564).
    #[arg(long, conflicts_with_all = ["url", "database_url"])]
    pub copy_of: Option<PathBuf>,
    /// Extra arguments for the spawned `the-eye serve`, e.g. `--serve-arg=--sqlite-synchronous=normal`.
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// The `the-eye` binary to spawn (default: the one built with this benchmark).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// The process id of the external server at `--url`, when it runs on this machine: its CPU
    /// per query or event and its memory are then read from `/proc` as a spawned server's are.
    #[arg(long, requires = "url")]
    pub server_pid: Option<u32>,
}

/// A server to send requests to.
pub struct Target {
    /// Base URL, without a trailing slash.
    pub url: String,
    /// The API key used for every request.
    pub key: String,
    /// The database, when known (needed to watch the job's backlog).
    pub database_url: Option<String>,
    child: Option<Child>,
    /// The external server's process id, when given (`--server-pid`).
    external_pid: Option<u32>,
    _dir: Option<TempDir>,
}

impl Target {
    /// Connects to the external server or spawns one.
    pub async fn start(args: &TargetArgs) -> anyhow::Result<Self> {
        if let Some(url) = &args.url {
            let key = args.key.clone().context("--url needs --key")?;
            return Ok(Self {
                url: url.trim_end_matches('/').to_string(),
                key,
                database_url: args.database_url.clone(),
                child: None,
                external_pid: args.server_pid,
                _dir: None,
            });
        }
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("bench.db");
        if let Some(seed) = &args.copy_of {
            copy_synced(seed, &file)?;
        }
        let database_url = args
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", file.display()));
        let bin = args
            .bin
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_the-eye")));
        let key = create_key(&bin, &database_url)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(&bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &database_url])
            .args(&args.serve_args)
            .env(
                "EYE_LOG",
                std::env::var("EYE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let target = Self {
            url: format!("http://127.0.0.1:{port}"),
            key,
            database_url: Some(database_url),
            child: Some(child),
            external_pid: None,
            _dir: Some(dir),
        };
        target.wait_until_up().await?;
        Ok(target)
    }

    async fn wait_until_up(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client.get(format!("{}/ready", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not become ready within a minute")
    }

    /// The spawned server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The SQLite database file, when the database is one (`None` for PostgreSQL).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database_url.as_deref()?;
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next()?;
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The process whose costs are read: the spawned server, or the external one named by
    /// `--server-pid`.
    fn measured_pid(&self) -> Option<u32> {
        self.pid().or(self.external_pid)
    }

    /// The server's bytes written and CPU time so far (`None` for an external server whose
    /// process id was not given).
    pub fn usage(&self) -> Option<crate::cost::Usage> {
        crate::cost::Usage::of(self.measured_pid()?)
    }

    /// Peak and current resident memory of the server, in KiB.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.measured_pid()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: let the server drain its writer as in production, then make sure it ends.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Copies the SQLite file `seed` to `to` and syncs the copy, refusing a file whose
/// write-ahead log still holds commits (they would be left behind).
fn copy_synced(seed: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    let mut wal = seed.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        bail!(
            "{} has a non-empty write-ahead log: checkpoint it first (PRAGMA wal_checkpoint(TRUNCATE))",
            seed.display()
        );
    }
    let started = Instant::now();
    let bytes = std::fs::copy(seed, to).with_context(|| format!("copying {}", seed.display()))?;
    std::fs::File::open(to)?.sync_all()?;
    eprintln!(
        "copied {} ({:.1} GB) and synced it in {:.1} s",
        seed.display(),
        bytes as f64 / 1e9,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `the-eye key create --scope admin` and returns the key (its last line of output).
pub fn create_key(bin: &PathBuf, database_url: &str) -> anyhow::Result<String> {
    let output = Command::new(bin)
        .args(["key", "create", "--app", "bench", "--scope", "admin"])
        .args(["--database-url", database_url])
        .output()
        .with_context(|| format!("running {} key create", bin.display()))?;
    if !output.status.success() {
        bail!(
            "key create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8(output.stdout)?;
    Ok(stdout.lines().last().unwrap_or_default().trim().to_string())
}
