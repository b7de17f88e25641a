//! CPU pinning for the "database on its own core" login runs: the server gets every core
//! but the first, and wrk, this benchmark process and PostgreSQL's processes share the
//! first, so the server's threads compete with nothing else, as with a database and a load
//! generator on hosts of their own.

use std::process::Command;

/// The server's cores when pinned: all but core 0, as a `taskset` list (`1`, `1-3`).
pub(crate) fn server_cpus(cores: usize) -> Option<String> {
    match cores {
        0 | 1 => None,
        2 => Some("1".to_owned()),
        n => Some(format!("1-{}", n - 1)),
    }
}

/// The cores of wrk and the database when pinned.
pub(crate) const OTHERS_CPUS: &str = "0";

/// `program` run under `taskset -c cpus` when `cpus` is set.
pub(crate) fn command(program: &std::ffi::OsStr, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Processes pinned to [`OTHERS_CPUS`] while this lives; their previous affinity is
/// restored when it is dropped.
pub(crate) struct Pinned {
    who: Who,
    restore: String,
}

/// Which processes a [`Pinned`] holds.
#[derive(Clone, Copy)]
pub(crate) enum Who {
    /// Every process with this command name (for `postgres`, new backends fork from the
    /// postmaster and inherit its pinning).
    Named(&'static str),
    /// This benchmark process, every thread of it.
    Myself,
}

impl Who {
    fn pids(self) -> Vec<u32> {
        match self {
            Self::Named(name) => pids_named(name),
            Self::Myself => vec![std::process::id()],
        }
    }
}

impl Pinned {
    /// Pins `who` (other users' processes need root).
    pub(crate) fn pin(who: Who) -> Result<Self, String> {
        let pids = who.pids();
        let first = pids.first().ok_or("no such process on this machine")?;
        let restore = affinity(*first)?;
        set_affinity(&pids, OTHERS_CPUS)?;
        Ok(Self { who, restore })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Err(e) = set_affinity(&self.who.pids(), &self.restore) {
            eprintln!("bench: restoring CPU affinity to {}: {e}", self.restore);
        }
    }
}

/// The process ids whose command name is `name`, lowest first (the postmaster first).
pub(crate) fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name))
        .collect();
    pids.sort_unstable();
    pids
}

/// The CPU list process `pid` may run on (`0,1`, `0-3`).
fn affinity(pid: u32) -> Result<String, String> {
    let out = Command::new("taskset").args(["-p", "-c", &pid.to_string()]).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.rsplit_once(": ")
        .map(|(_, list)| list.trim().to_owned())
        .filter(|list| out.status.success() && !list.is_empty())
        .ok_or_else(|| format!("unreadable affinity of {pid}: {text}"))
}

/// Sets the CPU list of every thread of each of `pids`; processes gone meanwhile are skipped.
fn set_affinity(pids: &[u32], cpus: &str) -> Result<(), String> {
    for pid in pids {
        let out = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .output()
            .map_err(|e| format!("running taskset: {e}"))?;
        if !out.status.success() && std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(format!("taskset on {pid}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_gets_every_core_but_the_first() {
        assert_eq!(server_cpus(1), None);
        assert_eq!(server_cpus(2).as_deref(), Some("1"));
        assert_eq!(server_cpus(8).as_deref(), Some("1-7"));
    }

    #[test]
    fn reads_this_process_affinity() {
        let list = affinity(std::process::id()).unwrap();
        assert!(list.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '-'), "{list}");
        assert!(affinity(u32::MAX).is_err());
    }

    #[test]
    fn finds_processes_by_name() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(pids_named(me.trim()).contains(&std::process::id()));
        assert!(pids_named("no-such-process-name").is_empty());
    }
}
