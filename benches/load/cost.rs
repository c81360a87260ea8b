//! What a process spent: the bytes it caused to be written to storage (`write_bytes` of
//! `/proc/PID/io`, which counts SQLite's WAL appends and checkpoints alike) and its CPU time
//! (user + system, `utime` + `stime` of `/proc/PID/stat`). Read before and after a run, the
//! difference divided by the events or queries of the run is a cost per unit that compares
//! across machines of different speeds, where absolute rates do not.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A process's cumulative storage writes and CPU time at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Bytes sent to the storage layer (page cache write-back included).
    pub write_bytes: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

impl Usage {
    /// Reads the usage of process `pid`; `None` when `/proc` does not have it (another OS, an
    /// exited process, or a process of another user).
    pub fn of(pid: u32) -> Option<Self> {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
        let write_bytes = io
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))?
            .trim()
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces; the fields after its `)` are fixed:
        // state is field 3, utime field 14, stime field 15.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Self {
            write_bytes,
            cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()),
        })
    }

    /// What was spent between `earlier` and this reading.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            write_bytes: self.write_bytes.saturating_sub(earlier.write_bytes),
            cpu: self.cpu.saturating_sub(earlier.cpu),
        }
    }

    /// "N bytes and M µs of CPU per unit" for `units` units of work (events, queries).
    pub fn per(&self, units: u64, unit: &str) -> String {
        let units = units.max(1) as f64;
        format!(
            "{:.0} bytes written and {:.1} µs CPU per {unit} ({:.1} MB, {:.2} s CPU in all)",
            self.write_bytes as f64 / units,
            self.cpu.as_secs_f64() * 1e6 / units,
            self.write_bytes as f64 / 1e6,
            self.cpu.as_secs_f64()
        )
    }
}

/// `sysconf(_SC_CLK_TCK)`, asked of `getconf` (the workspace forbids the `unsafe` a direct call
/// needs); 100, Linux's USER_HZ, when that fails.
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}
