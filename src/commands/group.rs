//! Signals to a command's process group: the program runs as the leader of its own
//! group, so a signal sent to the group reaches every process it started as well
//! (unless one moved itself to another group or session, as daemons do).

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Group(Pid);

impl Group {
    /// The group led by the process `pid`, which was started with `process_group(0)`.
    pub(crate) fn led_by(pid: u32) -> Option<Self> {
        i32::try_from(pid).ok().filter(|p| *p > 0).map(|p| Group(Pid::from_raw(p)))
    }

    /// The group's id: the process id of its leader.
    pub(crate) fn id(&self) -> u32 {
        self.0.as_raw().unsigned_abs()
    }

    /// Sends `signal` to every process in the group; a group that has already gone
    /// is not an error.
    pub(crate) fn signal(&self, signal: Signal) {
        match killpg(self.0, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(err) => tracing::warn!(pgid = self.0.as_raw(), %signal, %err, "could not signal a command's processes"),
        }
    }

    /// Whether any live process is left in the group.
    ///
    /// Only asked after the leader has been reaped and only while stopping or draining
    /// it: Linux does not hand out a group's id to a new process while the group
    /// exists, so the id can be reused only in the instant after the group empties.
    pub(crate) fn alive(&self) -> bool {
        if matches!(killpg(self.0, None), Err(Errno::ESRCH)) {
            return false;
        }
        // The group still has members, but they may be zombies only: orphans are
        // reaped by init, and the init of a container may never do it.
        u32::try_from(self.0.as_raw()).ok().and_then(crate::process::live_member).unwrap_or(true)
    }
}

/// Stops the process group `pgid` of a command this stepwise did not start (one
/// a killed stepwise left behind): SIGTERM, then SIGKILL once `grace` has passed
/// while `still_running` says it runs. `poll` is how often it asks.
pub async fn stop_group(
    pgid: u32,
    grace: std::time::Duration,
    poll: std::time::Duration,
    still_running: impl Fn() -> bool,
) {
    let Some(group) = Group::led_by(pgid) else { return };
    group.signal(Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while still_running() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(poll).await;
    }
    if still_running() {
        group.signal(Signal::SIGKILL);
        tokio::time::sleep(poll).await;
    }
}

/// Sends SIGKILL to the group when dropped while armed: if the caller drops a run
/// before it ends, nothing it started is left running (`kill_on_drop` alone would
/// reach only the program itself).
#[derive(Debug)]
pub(crate) struct KillOnDrop {
    group: Group,
    armed: bool,
}

impl KillOnDrop {
    pub(crate) fn new(group: Group) -> Self {
        KillOnDrop { group, armed: true }
    }

    /// The run ended normally: whatever is left of the group is accounted for.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.group.signal(Signal::SIGKILL);
        }
    }
}
