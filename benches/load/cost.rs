//! What a process spent: the bytes it caused to be written to storage (`write_bytes` of
//! `/proc/PID/io`, which counts SQLite's WAL appends and checkpoints alike), the bytes it handed
//! to `write` calls (`wchar`), and its CPU time (user + system, `utime` + `stime` of
//! `/proc/PID/stat`). Read before and after a run, the difference divided by the events or
//! queries of the run is a cost per unit that compares across machines of different speeds,
//! where absolute rates do not.
//!
//! `write_bytes` is charged when a page of the page cache turns dirty, for the whole folio the
//! page belongs to. Kernels that cache files in large folios (ext4 on Linux 6.18 here) charge
//! a 4 KiB write into a clean folio of several pages as the whole folio, so for SQLite's
//! scattered page writes it can count several times what reaches the disk (four times on a
//! 1M-event database in BENCHMARKS.md, session 11). [`device_written`] reads what the disk
//! itself was asked to write instead.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// A process's cumulative storage writes and CPU time at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Bytes charged to the storage layer (`write_bytes`: whole folios as they turn dirty).
    pub write_bytes: u64,
    /// Bytes handed to `write`-family calls: files and sockets (`wchar`).
    pub wchar: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

impl Usage {
    /// Reads the usage of process `pid`; `None` when `/proc` does not have it (another OS, an
    /// exited process, or a process of another user).
    pub fn of(pid: u32) -> Option<Self> {
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
        let field = |name: &str| -> Option<u64> {
            io.lines()
                .find_map(|l| l.strip_prefix(name))?
                .trim()
                .parse()
                .ok()
        };
        let write_bytes = field("write_bytes:")?;
        let wchar = field("wchar:")?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces; the fields after its `)` are fixed:
        // state is field 3, utime field 14, stime field 15.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Self {
            write_bytes,
            wchar,
            cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second()),
        })
    }

    /// What was spent between `earlier` and this reading.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            write_bytes: self.write_bytes.saturating_sub(earlier.write_bytes),
            wchar: self.wchar.saturating_sub(earlier.wchar),
            cpu: self.cpu.saturating_sub(earlier.cpu),
        }
    }

    /// "N bytes and M µs of CPU per unit" for `units` units of work (events, queries).
    pub fn per(&self, units: u64, unit: &str) -> String {
        let units = units.max(1) as f64;
        format!(
            "{:.0} bytes written and {:.1} µs CPU per {unit} ({:.1} MB, {:.2} s CPU in all); \
             {:.0} bytes per {unit} handed to write calls ({:.1} MB)",
            self.write_bytes as f64 / units,
            self.cpu.as_secs_f64() * 1e6 / units,
            self.write_bytes as f64 / 1e6,
            self.cpu.as_secs_f64(),
            self.wchar as f64 / units,
            self.wchar as f64 / 1e6,
        )
    }
}

/// Bytes the block device holding `path` has been asked to write since it started
/// (`/sys/dev/block/MAJ:MIN/stat`: sectors written × 512), read after flushing the file
/// system's dirty pages (`sync -f`), so that what a run left in the page cache is counted. It
/// is the device's count, so it includes every process writing to that device and the file
/// system's own journal; on an otherwise idle machine, the difference over a run is what the
/// server's database cost the disk. `None` where the path has no block device (tmpfs,
/// overlays) or `/sys` is not readable.
pub fn device_written(path: &Path) -> Option<u64> {
    let status = Command::new("sync").arg("-f").arg(path).status().ok()?;
    if !status.success() {
        return None;
    }
    let dev = std::fs::metadata(path).ok()?.dev();
    // glibc's encoding of `dev_t` (gnu_dev_major / gnu_dev_minor).
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
    if major == 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/stat")).ok()?;
    // Fields: reads, read merges, sectors read, read ms, writes, write merges, sectors written.
    let sectors: u64 = stat.split_whitespace().nth(6)?.parse().ok()?;
    Some(sectors * 512)
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
