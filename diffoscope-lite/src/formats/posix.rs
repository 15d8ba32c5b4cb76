//! What the Unix-style archives and filesystem images (cpio, squashfs,
//! ISO 9660 with Rock Ridge) share once their own structures are parsed:
//! the file type encoded in `st_mode`, and what each member records. Not a format: no [`super::Format`] lives here, only what would
//! otherwise be written three times.

use crate::model::{Content, Entry, EntryKind, Metadata};

/// The file-type bits of `st_mode`.
pub(crate) const S_IFMT: u32 = 0o170_000;
/// A regular file.
pub(crate) const S_IFREG: u32 = 0o100_000;
/// A directory.
pub(crate) const S_IFDIR: u32 = 0o040_000;
/// A symbolic link.
pub(crate) const S_IFLNK: u32 = 0o120_000;
/// A character device.
pub(crate) const S_IFCHR: u32 = 0o020_000;
/// A block device.
pub(crate) const S_IFBLK: u32 = 0o060_000;
/// A named pipe.
pub(crate) const S_IFIFO: u32 = 0o010_000;
/// A socket.
pub(crate) const S_IFSOCK: u32 = 0o140_000;

/// The entry kind `mode` names; `target` is a symlink's target (asked for
/// only when the mode says symlink), `(major, minor)` a device's numbers.
pub(crate) fn kind_of_mode(
    mode: u32,
    target: Option<String>,
    (major, minor): (u32, u32),
) -> EntryKind {
    match mode & S_IFMT {
        S_IFREG => EntryKind::File,
        S_IFDIR => EntryKind::Dir,
        S_IFLNK => EntryKind::Symlink {
            target: target.unwrap_or_default(),
        },
        S_IFCHR | S_IFBLK => EntryKind::Device {
            block: mode & S_IFMT == S_IFBLK,
            major,
            minor,
        },
        S_IFIFO => EntryKind::Fifo,
        S_IFSOCK => EntryKind::Other("socket".into()),
        other => EntryKind::Other(format!("file type {other:o}")),
    }
}

/// What a Unix-style member records, whatever the format.
pub(crate) struct Stat {
    /// Its path in the archive.
    pub(crate) path: String,
    /// What it is.
    pub(crate) kind: EntryKind,
    /// The whole mode; the file type bits are dropped from the metadata.
    pub(crate) mode: u32,
    /// Owner uid and gid, when recorded.
    pub(crate) owner: Option<(u64, u64)>,
    /// Modification time.
    pub(crate) mtime: i64,
    /// The size the listing shows (a symlink's: its target's length).
    pub(crate) size: u64,
}

impl Stat {
    /// The entry at position `order`; `data` is its content if it is a
    /// regular file (anything else has none).
    pub(crate) fn entry(self, order: usize, data: Content) -> Entry {
        let content = if self.kind == EntryKind::File {
            data
        } else {
            Content::empty()
        };
        Entry {
            path: self.path,
            kind: self.kind,
            meta: Metadata {
                mode: Some(self.mode & 0o7777),
                uid: self.owner.map(|o| o.0),
                gid: self.owner.map(|o| o.1),
                mtime: Some(self.mtime),
                size: Some(self.size),
                order,
                ..Metadata::default()
            },
            content,
            digest: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_type_has_its_kind() {
        assert_eq!(kind_of_mode(0o100_644, None, (0, 0)), EntryKind::File);
        assert_eq!(kind_of_mode(0o040_755, None, (0, 0)), EntryKind::Dir);
        assert_eq!(
            kind_of_mode(0o120_777, Some("t".into()), (0, 0)),
            EntryKind::Symlink { target: "t".into() }
        );
        assert_eq!(
            kind_of_mode(0o060_600, None, (8, 1)),
            EntryKind::Device {
                block: true,
                major: 8,
                minor: 1
            }
        );
        assert_eq!(
            kind_of_mode(0o020_600, None, (1, 3)),
            EntryKind::Device {
                block: false,
                major: 1,
                minor: 3
            }
        );
        assert_eq!(kind_of_mode(0o010_600, None, (0, 0)), EntryKind::Fifo);
        assert_eq!(kind_of_mode(0o140_600, None, (0, 0)).name(), "socket");
        assert_eq!(
            kind_of_mode(0o170_000, None, (0, 0)).name(),
            "file type 170000"
        );
    }
}
