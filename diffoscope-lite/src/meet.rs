//! Where the two sides of a streamed archive pair meet while both streams
//! pass, so that equal members are written to a spool once, not twice.
//!
//! Each side runs on its own thread and reads its archive in its own
//! order. The side that reaches a member first spools it as usual and
//! publishes how far it has got. The side that reaches it second compares
//! its own bytes with that spool as it streams, waiting for the first side
//! when it is ahead (which is the usual case for two archives in the same
//! order, where both reach every member together). If every byte is equal
//! it writes nothing and shares the first side's copy; at the first
//! difference it copies the equal prefix and spools the rest of its own
//! member, exactly as if it had spooled it from the start.
//!
//! No deadlock: a spooling side never waits for anything but its own
//! input, and a waiting side only waits for the member the other side is
//! spooling at that moment. A spooling side that fails or panics marks its
//! copy failed, which wakes the waiting side to spool its own.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::model::{read_full, Content, Cx, Source, Spool};
use crate::{Error, Result};

/// Bytes compared per step.
const CHUNK: usize = 256 * 1024;

/// The table of members that one side has reached and the other has not.
///
/// It holds an entry for every member the other side has not reached
/// yet, which for two archives with different names is every member:
/// entries are kept small (a 64-bit key, and a finished copy's place in
/// its spool rather than the copy with its lock).
#[derive(Default)]
pub(crate) struct Rendezvous {
    /// Keyed by a keyed hash of the member name and its occurrence among
    /// the members with content (the n-th of a name meets the n-th on the
    /// other side). The differ pairs entries its own way, over every
    /// entry; a key that pairs differently from it, or two names whose
    /// keys collide, cost only a shared copy, never a wrong answer, since
    /// sharing needs every byte to be equal.
    waiting: Mutex<HashMap<u64, Slot>>,
    keys: std::collections::hash_map::RandomState,
}

/// A member one side has reached.
enum Slot {
    /// Being spooled (or stopped while being spooled).
    Writing(Arc<SpoolCopy>),
    /// Spooled completely.
    Done {
        side: usize,
        size: u64,
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
}

impl Slot {
    fn side(&self) -> usize {
        match self {
            Slot::Writing(c) => c.side,
            Slot::Done { side, .. } => *side,
        }
    }
}

/// One side's spooled copy of a member, possibly still being written.
struct SpoolCopy {
    side: usize,
    /// The member's declared size.
    size: u64,
    file: Arc<File>,
    offset: u64,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// This many bytes are on file and more may follow.
    Writing(u64),
    /// Complete, this long.
    Done(u64),
    /// The spooling side stopped (damaged member, I/O error, panic); the
    /// bytes written so far are valid.
    Failed(u64),
}

impl SpoolCopy {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means the other side panicked while holding it;
        // the state it guards is a plain value and still meaningful.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, state: State) {
        *self.lock() = state;
        self.changed.notify_all();
    }

    /// Waits until at least `want` bytes are on file or the copy is
    /// finished, and returns the state then.
    fn wait_for(&self, want: u64) -> State {
        let mut state = self.lock();
        while let State::Writing(n) = *state {
            if n >= want {
                break;
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        *state
    }

    /// Waits until the copy is finished.
    fn wait_end(&self) -> State {
        self.wait_for(u64::MAX)
    }
}

/// Marks a copy failed unless it was finished: runs on every early return
/// and on unwinding.
struct FailOnDrop<'a>(&'a SpoolCopy);

impl Drop for FailOnDrop<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        if let State::Writing(n) = *state {
            *state = State::Failed(n);
            drop(state);
            self.0.changed.notify_all();
        }
    }
}

impl Rendezvous {
    /// Spools member `name` (its `occurrence`-th of that name on this
    /// side) read from `r`, or shares the other side's copy if it is the
    /// same. `size` is the member's declared size: members of different
    /// sizes are never compared while streaming.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn member(
        &self,
        side: usize,
        name: &str,
        occurrence: u32,
        size: u64,
        r: &mut dyn Read,
        spool: &mut Spool,
        cx: &Cx<'_>,
        entry: &str,
    ) -> Result<Content> {
        let key = std::hash::BuildHasher::hash_one(&self.keys, (name, occurrence));
        let (file, offset) = spool.tail()?;
        let ours = Arc::new(SpoolCopy {
            side,
            size,
            file,
            offset,
            state: Mutex::new(State::Writing(0)),
            changed: Condvar::new(),
        });
        let theirs = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            match waiting.get(&key) {
                Some(slot) if slot.side() != side => waiting.remove(&key),
                _ => {
                    waiting.insert(key, Slot::Writing(Arc::clone(&ours)));
                    None
                }
            }
        };
        let theirs = match theirs {
            Some(Slot::Writing(c)) => Some(c),
            // A finished copy: a lock and a condition of its own again,
            // for as long as this member is compared.
            Some(Slot::Done {
                side,
                size,
                file,
                offset,
                len,
            }) => Some(Arc::new(SpoolCopy {
                side,
                size,
                file,
                offset,
                state: Mutex::new(State::Done(len)),
                changed: Condvar::new(),
            })),
            None => None,
        };
        match theirs {
            Some(theirs) if theirs.size == size => follow(&theirs, r, spool, cx, entry),
            Some(_) => spool.append(r, cx, entry),
            None => {
                let guard = FailOnDrop(&ours);
                let content = spool.append_reporting(r, cx, entry, &mut |n| {
                    ours.set(State::Writing(n));
                })?;
                let len = match &content.0 {
                    Source::Range { len, .. } => *len,
                    _ => 0,
                };
                ours.set(State::Done(len));
                drop(guard);
                // Still waiting for the other side: keep only where the
                // bytes are.
                let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = waiting.get_mut(&key) {
                    if matches!(slot, Slot::Writing(c) if Arc::ptr_eq(c, &ours)) {
                        *slot = Slot::Done {
                            side,
                            size,
                            file: Arc::clone(&ours.file),
                            offset: ours.offset,
                            len,
                        };
                    }
                }
                Ok(content)
            }
        }
    }
}

/// Compares `r` with `theirs` as both arrive; see the module comment.
fn follow(
    theirs: &SpoolCopy,
    r: &mut dyn Read,
    spool: &mut Spool,
    cx: &Cx<'_>,
    entry: &str,
) -> Result<Content> {
    let [mut a, mut b] = std::mem::take(&mut spool.scratch);
    a.resize(CHUNK, 0);
    b.resize(CHUNK, 0);
    let result = compare_or_spool(theirs, r, spool, cx, entry, &mut a, &mut b);
    spool.scratch = [a, b];
    result
}

fn compare_or_spool(
    theirs: &SpoolCopy,
    r: &mut dyn Read,
    spool: &mut Spool,
    cx: &Cx<'_>,
    entry: &str,
    a: &mut [u8],
    b: &mut [u8],
) -> Result<Content> {
    let mut pos = 0u64;
    loop {
        let n = read_full(r, a).map_err(|e| cx.io(e, entry, "reading"))?;
        let end = pos + n as u64;
        let available = match theirs.wait_for(end) {
            State::Writing(w) | State::Done(w) | State::Failed(w) => w,
        };
        let same = end <= available && {
            theirs
                .file
                .read_exact_at(&mut b[..n], theirs.offset + pos)
                .map_err(|source| Error::Spool { source })?;
            a[..n] == b[..n]
        };
        if !same {
            // The first `pos` bytes are equal: take them from their copy,
            // then ours from here on.
            let (_, start) = spool.tail()?;
            spool.copy_from(&theirs.file, theirs.offset, pos)?;
            spool.write(&a[..n])?;
            spool.extend(r, cx, entry, &mut |_| {})?;
            return spool.since(start);
        }
        pos = end;
        if n < a.len() {
            break;
        }
    }
    match theirs.wait_end() {
        State::Done(len) if len == pos => Ok(Content(Source::Range {
            file: Arc::clone(&theirs.file),
            offset: theirs.offset,
            len,
        })),
        // Theirs is longer, or was never finished: ours is what we read.
        _ => {
            let (_, start) = spool.tail()?;
            spool.copy_from(&theirs.file, theirs.offset, pos)?;
            spool.since(start)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &[u8], b: &[u8], concurrent: bool) -> (Vec<u8>, Vec<u8>, bool) {
        let sides = crate::model::Sides::new();
        let (cxa, cxb) = (sides.cx(0), sides.cx(1));
        let meet = Rendezvous::default();
        let side = |i: usize, data: &[u8], cx: &Cx<'_>| {
            let mut spool = Spool::default();
            let mut r = data;
            // Declared sizes equal, so that unequal lengths are streamed.
            meet.member(i, "m", 0, 0, &mut r, &mut spool, cx, "m")
                .unwrap()
        };
        let (ca, cb) = if concurrent {
            std::thread::scope(|s| {
                let h = s.spawn(|| side(1, b, &cxb));
                let ca = side(0, a, &cxa);
                (ca, h.join().unwrap())
            })
        } else {
            (side(0, a, &cxa), side(1, b, &cxb))
        };
        let read = |c: &Content, cx: &Cx<'_>| {
            c.with_reader(cx, "m", |r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).unwrap();
                Ok(v)
            })
            .unwrap()
        };
        let shared = ca.is_same_range(&cb);
        (read(&ca, &cxa), read(&cb, &cxb), shared)
    }

    #[test]
    fn equal_members_are_shared_and_others_kept_whole() {
        let big: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut changed = big.clone();
        changed[2 * CHUNK + 5] ^= 1;
        let cases: &[(&[u8], &[u8], bool)] = &[
            (&big, &big, true),
            (&big, &changed, false),
            (&big, &big[..CHUNK], false),
            (&big[..CHUNK], &big, false),
            (&big[..CHUNK + 1], &big, false),
            (b"", b"", true),
            (b"", b"x", false),
            (b"x", b"", false),
        ];
        for concurrent in [false, true] {
            for (a, b, shared) in cases {
                let (ra, rb, s) = run(a, b, concurrent);
                assert_eq!(&ra[..], *a);
                assert_eq!(&rb[..], *b);
                // The side that comes second always finds the first's
                // copy (one lock both looks and leaves), so equal members
                // are shared whichever side is ahead.
                assert_eq!(s, *shared, "{} vs {} ({concurrent})", a.len(), b.len());
            }
        }
    }

    #[test]
    fn a_failed_copy_wakes_the_other_side() {
        let copy = SpoolCopy {
            side: 0,
            size: 0,
            file: Arc::new(tempfile::tempfile().unwrap()),
            offset: 0,
            state: Mutex::new(State::Writing(0)),
            changed: Condvar::new(),
        };
        std::thread::scope(|s| {
            let waiter = s.spawn(|| copy.wait_for(10));
            {
                let _guard = FailOnDrop(&copy);
                copy.set(State::Writing(3));
            }
            assert_eq!(waiter.join().unwrap(), State::Failed(3));
        });
    }
}
