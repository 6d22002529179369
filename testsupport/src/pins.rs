//! Pin directories of our own under bpffs.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::names::{unique_name, Owner};

/// Where bpffs is mounted.
pub const BPFFS: &str = "/sys/fs/bpf";

/// A pin directory `/sys/fs/bpf/<prefix><short>-<pid>x<n>` (and inside it
/// the owner's [`Owner::PIN_LEAF`], the path handed out). On Drop what is
/// pinned there is detached and unpinned ([`Owner::unpin`]) and the
/// directory removed. Drop whatever holds its maps' fds first: they keep
/// the maps alive, not pinned.
#[derive(Debug)]
pub struct PinDir<O: Owner> {
    base: PathBuf,
    dir: PathBuf,
    owner: PhantomData<fn() -> O>,
}

impl<O: Owner> PinDir<O> {
    /// Names the directory; the program that pins there creates it.
    pub fn new(short: &str) -> PinDir<O> {
        let base = Path::new(BPFFS).join(unique_name::<O>(short));
        PinDir {
            dir: leaf::<O>(&base),
            base,
            owner: PhantomData,
        }
    }

    /// The directory to pin into.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl<O: Owner> Drop for PinDir<O> {
    fn drop(&mut self) {
        remove::<O>(&self.base);
    }
}

fn leaf<O: Owner>(base: &Path) -> PathBuf {
    if O::PIN_LEAF.is_empty() {
        base.to_path_buf()
    } else {
        base.join(O::PIN_LEAF)
    }
}

/// Unpins what `base` holds, then removes it: whatever unpinning left (or
/// could not remove: a broken build) goes too.
pub(crate) fn remove<O: Owner>(base: &Path) {
    let dir = leaf::<O>(base);
    if dir.exists() {
        O::unpin(&dir);
    }
    let _ = std::fs::remove_dir_all(base);
}
