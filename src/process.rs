//! Telling whether a process recorded earlier still runs: a process id means
//! something only on the machine and in the boot of the kernel that gave it,
//! and only while the process it named has the start time it had. The session
//! journal records the commands it starts this way, and the Lease its holder.

use serde::{Deserialize, Serialize};

/// This machine's host name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// This boot of this machine's kernel: with the host name, what tells a
/// process id here from the same number elsewhere or before a reboot.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|b| b.trim().to_string()).unwrap_or_default()
}

/// A started command's process, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessMark {
    pub host: String,
    pub boot: String,
    pub pid: u32,
    /// The command runs in a process group of its own, led by `pid`; what it
    /// starts stays in that group.
    pub pgid: u32,
    /// When the kernel started it (clock ticks since boot), so a reused id is
    /// not taken for it.
    pub start_ticks: u64,
}

/// Whether a recorded process (or what it started) still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The process, or another in its group, runs on this machine.
    Running,
    /// Nothing of it runs here any more.
    Gone,
    /// It ran on another machine or before a reboot: this machine cannot tell.
    Elsewhere,
}

impl ProcessMark {
    /// The process `pid` of this machine, leading its own group.
    pub fn of(pid: u32) -> ProcessMark {
        ProcessMark { host: host(), boot: boot_id(), pid, pgid: pid, start_ticks: start_ticks(pid).unwrap_or(0) }
    }

    pub fn liveness(&self) -> Liveness {
        if self.host != host() || self.boot.is_empty() || self.boot != boot_id() {
            return Liveness::Elsewhere;
        }
        let leader = start_ticks(self.pid).is_some_and(|t| t == self.start_ticks);
        if leader || live_member(self.pgid) == Some(true) { Liveness::Running } else { Liveness::Gone }
    }
}

/// Field 22 of /proc/PID/stat; `None` when no such process exists or it has
/// ended and waits only to be reaped (a zombie: the init of a container may
/// never reap it).
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Whether `/proc` shows a process of group `pgid` that is not a zombie; `None` when
/// `/proc` cannot be read (not Linux).
pub fn live_member(pgid: u32) -> Option<bool> {
    let pgid = pgid.to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid pgrp ...`; comm may itself hold `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let mut fields = rest.split_whitespace();
        let (state, pgrp) = (fields.next(), fields.nth(1));
        if pgrp == Some(pgid.as_str()) && !matches!(state, Some("Z" | "X")) {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_is_running_and_an_ended_one_is_gone() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let mut mark = ProcessMark::of(child.id());
        // Not a group leader here: judge it by the process alone.
        mark.pgid = u32::MAX;
        assert!(mark.start_ticks > 0);
        assert_eq!(mark.liveness(), Liveness::Running);
        let reused = ProcessMark { start_ticks: mark.start_ticks + 1, ..mark.clone() };
        assert_eq!(reused.liveness(), Liveness::Gone, "the same id with another start time is another process");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(mark.liveness(), Liveness::Gone);
        let elsewhere = ProcessMark { boot: "another-boot".into(), ..mark };
        assert_eq!(elsewhere.liveness(), Liveness::Elsewhere);
    }
}
