//! Change notifications for containers' `memory.events` files (inotify), so an OOM kill is seen when the kernel
//! records it rather than at the next sample.
//!
//! The kernel raises a "file modified" event on `memory.events` whenever a count in it changes (cgroup v2
//! documentation, `memory.events`). On ordinary filesystems the same watch sees in-place writes, and a file
//! replaced by rename shows up as an attribute change on the old inode followed by the watch's removal
//! (`IN_IGNORED`), after which the caller re-arms it on the new file. A queue overflow means events were lost:
//! the caller re-reads every watched file. Where inotify is unavailable (no kernel support, watch limit reached)
//! the caller falls back to reading `memory.events` on every sample.

use std::io;
use std::mem::MaybeUninit;
use std::path::Path;

use rustix::fd::OwnedFd;
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::read::MEMORY_EVENTS_FILE;

/// A watch descriptor.
pub type WatchId = i32;

/// What a batch of inotify events says about one watch (or all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The file changed (or was replaced): read it now.
    Changed(WatchId),
    /// The watch is gone (file replaced or deleted, cgroup removed): read the file now and re-arm if it exists.
    Dropped(WatchId),
    /// The kernel's event queue overflowed: any watched file may have changed.
    Overflow,
}

/// One inotify instance watching many `memory.events` files.
#[derive(Debug)]
pub struct EventsWatcher {
    fd: OwnedFd,
    buf: Vec<MaybeUninit<u8>>,
}

/// The events that mean "look at the file again".
fn watch_flags() -> WatchFlags {
    WatchFlags::MODIFY | WatchFlags::ATTRIB | WatchFlags::DELETE_SELF | WatchFlags::MOVE_SELF
}

impl EventsWatcher {
    /// A non-blocking inotify instance.
    pub fn new() -> io::Result<Self> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        Ok(Self {
            fd,
            // Room for ~250 events per read(2); they carry no names (file watches only).
            buf: vec![MaybeUninit::uninit(); 4096],
        })
    }

    /// Watches `dir/memory.events`.
    pub fn watch(&self, dir: &Path) -> Result<WatchId, Errno> {
        inotify::add_watch(&self.fd, dir.join(MEMORY_EVENTS_FILE), watch_flags())
    }

    /// Stops watching (an already-removed watch is fine).
    pub fn unwatch(&self, id: WatchId) {
        let _ = inotify::remove_watch(&self.fd, id);
    }

    /// A second descriptor of the same instance, for an async runtime to wait on while this one reads.
    pub fn readiness_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// Reads every pending event (until the queue is empty) and appends what they mean to `out`. Several events
    /// for one watch may give several notices; callers deduplicate.
    pub fn drain(&mut self, out: &mut Vec<Notice>) -> io::Result<()> {
        let mut reader = inotify::Reader::new(&self.fd, &mut self.buf);
        loop {
            let event = match reader.next() {
                Ok(e) => e,
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                out.push(Notice::Overflow);
            } else if flags.contains(ReadFlags::IGNORED) {
                out.push(Notice::Dropped(event.wd()));
            } else {
                out.push(Notice::Changed(event.wd()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(w: &mut EventsWatcher) -> Vec<Notice> {
        let mut out = Vec::new();
        w.drain(&mut out).expect("drain");
        out
    }

    #[test]
    fn in_place_write_rename_and_removal() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join(MEMORY_EVENTS_FILE);
        std::fs::write(&file, "oom_kill 0\n").expect("write");
        let mut w = EventsWatcher::new().expect("inotify");
        let id = w.watch(tmp.path()).expect("watch");
        assert!(drained(&mut w).is_empty());

        std::fs::write(&file, "oom_kill 1\n").expect("rewrite");
        let n = drained(&mut w);
        assert!(
            !n.is_empty() && n.iter().all(|n| *n == Notice::Changed(id)),
            "{n:?}"
        );

        // Replaced by rename: the old inode's watch reports and then goes away.
        let tmp_file = tmp.path().join(".memory.events.tmp");
        std::fs::write(&tmp_file, "oom_kill 2\n").expect("write");
        std::fs::rename(&tmp_file, &file).expect("rename");
        let n = drained(&mut w);
        assert!(n.contains(&Notice::Dropped(id)), "{n:?}");
        let id2 = w.watch(tmp.path()).expect("re-arm");

        std::fs::remove_file(&file).expect("remove");
        let n = drained(&mut w);
        assert!(n.contains(&Notice::Dropped(id2)), "{n:?}");
        assert_eq!(w.watch(tmp.path()), Err(Errno::NOENT));
    }
}
