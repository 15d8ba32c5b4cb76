//! SquashFS 4.0 images (gzip, xz, zstd or lz4 compressed), read with the
//! `backhand` crate: its reader is the one parser of squashfs here. Members
//! are listed like tar's (a `file list`), with their mode, owner and mtime;
//! the superblock's compressor, block size and creation time are the
//! container's own fields. The normalizer leaves squashfs alone (its bytes
//! are digested as they are).
//!
//! backhand reads the inode, directory, id and fragment tables into memory
//! (their size is bounded by the image's: metadata blocks hold at most
//! 8 KiB each). File data is decompressed once, while the image is read,
//! into one anonymous spool file per image, each file's declared size
//! charged to the decompressed-bytes limit before a byte is read and never
//! more than it read. The ratio limit is not applied to squashfs data:
//! backhand decodes whole blocks (at most 1 MiB each) and does not say how
//! many compressed bytes a file took; the decompressed-bytes limit bounds
//! what an image can make us write. A fragment index the table does not
//! hold is an error here, checked before backhand would index out of
//! bounds.

use std::io::{BufReader, Read};

use backhand::{FilesystemReader, InnerNode, SquashfsFileReader};

use super::posix::{
    kind_of_mode, Stat, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK,
};
use super::{Format, Kind, Parsed};
use crate::model::{Content, Cx, MetaField, MetaValue, Spool};
use crate::{Error, Result};

/// SquashFS images.
pub struct Squashfs;

/// A file with no fragment (its tail is a block of its own).
const NO_FRAGMENT: usize = 0xffff_ffff;

/// Linux's `new_decode_dev`: squashfs stores device numbers as the kernel
/// encodes them, minor split around the major's 12 bits.
fn device(n: u32) -> (u32, u32) {
    ((n >> 8) & 0xfff, (n & 0xff) | ((n >> 12) & 0xfff00))
}

impl Format for Squashfs {
    fn kind(&self) -> Kind {
        Kind::Squashfs
    }

    fn detect(&self, head: &[u8]) -> bool {
        // "hsqs", then the version (4.0) at offset 28: 3.x and older
        // images are another format, which backhand does not read.
        head.starts_with(b"hsqs") && head.get(28..32) == Some(&[4, 0, 0, 0])
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let blob = content.blob(cx, name)?;
        // backhand is a third party's parser of untrusted bytes: should it
        // panic on an image we did not foresee, that is this image's error,
        // not the end of the whole comparison.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_image(BufReader::new(blob.reader()), name, cx)
        }));
        read.unwrap_or_else(|_| {
            Err(cx.malformed("the squashfs reader gave up on it", name, Kind::Squashfs))
        })
    }
}

/// Reads every node of the image behind `reader`.
fn read_image(
    reader: BufReader<crate::blob::BlobReader>,
    name: &str,
    cx: &Cx<'_>,
) -> Result<Parsed> {
    let fs =
        FilesystemReader::from_reader(reader).map_err(|e| cx.malformed(e, name, Kind::Squashfs))?;
    let fragments = fs.fragments.as_ref().map_or(0, Vec::len);
    let mut spool = Spool::default();
    let mut entries = Vec::new();
    for node in fs.files() {
        let path = node.fullpath.to_string_lossy();
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            // The root directory: its metadata is the image's.
            continue;
        }
        let nested = format!("{name}::{path}");
        cx.budget.add_entry(&nested)?;
        let h = &node.header;
        let (ftype, target, dev, content, size) = match &node.inner {
            InnerNode::File(f) => {
                let (content, size) = file_data(&fs, f, fragments, &mut spool, &nested, cx)?;
                (S_IFREG, None, 0, content, size)
            }
            InnerNode::Symlink(l) => {
                let target = l.link.to_string_lossy().into_owned();
                let size = target.len() as u64;
                (S_IFLNK, Some(target), 0, Content::empty(), size)
            }
            InnerNode::Dir(_) => (S_IFDIR, None, 0, Content::empty(), 0),
            InnerNode::CharacterDevice(d) => (S_IFCHR, None, d.device_number, Content::empty(), 0),
            InnerNode::BlockDevice(d) => (S_IFBLK, None, d.device_number, Content::empty(), 0),
            InnerNode::NamedPipe => (S_IFIFO, None, 0, Content::empty(), 0),
            InnerNode::Socket => (S_IFSOCK, None, 0, Content::empty(), 0),
        };
        let mode = u32::from(h.permissions) & 0o7777;
        let stat = Stat {
            path: path.to_owned(),
            kind: kind_of_mode(ftype | mode, target, device(dev)),
            mode,
            owner: Some((u64::from(h.uid), u64::from(h.gid))),
            mtime: i64::from(h.mtime),
            size,
        };
        entries.push(stat.entry(entries.len(), content));
    }
    let meta = vec![
        (
            MetaField::Header("compressor"),
            MetaValue::Text(format!("{:?}", fs.compressor).to_lowercase()),
        ),
        (
            MetaField::Header("block size"),
            MetaValue::Number(u64::from(fs.block_size)),
        ),
        (
            MetaField::Header("creation time"),
            MetaValue::Time(i64::from(fs.mod_time)),
        ),
    ];
    Ok(super::archive(Kind::Squashfs, entries, meta, Vec::new()))
}

/// The data of file `f`, decompressed into `spool`: its content and size.
fn file_data(
    fs: &FilesystemReader<'_>,
    f: &SquashfsFileReader,
    fragments: usize,
    spool: &mut Spool,
    nested: &str,
    cx: &Cx<'_>,
) -> Result<(Content, u64)> {
    let frag = f.frag_index();
    if frag != NO_FRAGMENT && frag >= fragments {
        return Err(Error::Malformed {
            entry: nested.to_owned(),
            format: Kind::Squashfs,
            detail: format!("fragment {frag} of a table of {fragments}"),
        });
    }
    let size = f.file_len() as u64;
    cx.budget.charge_expanded(size, nested)?;
    let mut data = fs.file(f).reader().take(size);
    let content = spool.append(&mut data, cx, nested)?;
    Ok((content, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryKind;
    use backhand::{FilesystemWriter, NodeHeader};

    /// A tiny image made by backhand's writer: a directory, a file, a
    /// symlink and a character device.
    fn image(text: &'static [u8], mtime: u32) -> Vec<u8> {
        let mut w = FilesystemWriter::default();
        w.set_time(1_700_000_000);
        w.set_no_padding();
        let h = |mode| NodeHeader::new(mode, 1000, 100, mtime);
        w.push_dir("dir", h(0o755)).unwrap();
        w.push_file(text, "dir/text", h(0o644)).unwrap();
        w.push_symlink("text", "dir/link", h(0o777)).unwrap();
        // major 1, minor 3, as the kernel encodes them.
        w.push_char_device((1 << 8) | 3, "dir/null", h(0o666))
            .unwrap();
        let mut out = std::io::Cursor::new(Vec::new());
        w.write(&mut out).unwrap();
        out.into_inner()
    }

    fn read_all(bytes: Vec<u8>) -> Result<Parsed> {
        let sides = crate::model::Sides::new();
        Squashfs.read(&Content::memory(bytes), "t.squashfs", &sides.cx(0))
    }

    #[test]
    fn members_carry_their_kind_metadata_and_data() {
        let bytes = image(b"hello\n", 1_600_000_000);
        assert!(Squashfs.detect(&bytes));
        let Parsed::Container(x) = read_all(bytes).unwrap() else {
            panic!("not a container");
        };
        let got: Vec<_> = x
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.kind.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("dir", EntryKind::Dir),
                (
                    "dir/link",
                    EntryKind::Symlink {
                        target: "text".into()
                    }
                ),
                (
                    "dir/null",
                    EntryKind::Device {
                        block: false,
                        major: 1,
                        minor: 3
                    }
                ),
                ("dir/text", EntryKind::File),
            ]
        );
        let text = &x.entries[3];
        assert_eq!(text.meta.mode, Some(0o644));
        assert_eq!(text.meta.uid, Some(1000));
        assert_eq!(text.meta.gid, Some(100));
        assert_eq!(text.meta.mtime, Some(1_600_000_000));
        let sides = crate::model::Sides::new();
        let mut data = Vec::new();
        text.content
            .with_reader(&sides.cx(0), "t", |r| {
                r.read_to_end(&mut data)
                    .map_err(|e| sides.cx(0).io(e, "t", "reading"))
            })
            .unwrap();
        assert_eq!(data, b"hello\n");
        assert!(x.meta.contains(&(
            MetaField::Header("creation time"),
            MetaValue::Time(1_700_000_000)
        )));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let good = image(b"hello\n", 0);
        // Cuts, and a flipped byte at every third offset of the superblock
        // and the tables behind the data: an error or a reading, never a
        // panic that escapes.
        let damaged = (0..good.len())
            .step_by(7)
            .map(|cut| good[..cut].to_vec())
            .chain((0..good.len()).step_by(3).map(|at| {
                let mut bad = good.clone();
                bad[at] ^= 0x55;
                bad
            }));
        for bytes in damaged {
            if let Err(e) = read_all(bytes) {
                assert!(
                    e.is_malformed_input() || matches!(e, Error::LimitExceeded { .. }),
                    "{e}"
                );
            }
        }
        let err = read_all(good[..200].to_vec()).unwrap_err().to_string();
        assert!(err.starts_with("t.squashfs: malformed squashfs"), "{err}");
    }

    #[test]
    fn file_data_counts_against_the_decompressed_limit() {
        let bytes = image(&[b'x'; 5000], 0);
        let opts = crate::Options::default();
        let budget = crate::limits::Budget::new(crate::Limits {
            max_decompressed: 4096,
            ..crate::Limits::default()
        });
        let cx = Cx {
            budget: &budget,
            opts: &opts,
        };
        let err = Squashfs
            .read(&Content::memory(bytes), "t.squashfs", &cx)
            .unwrap_err()
            .to_string();
        assert!(err.contains("total decompressed bytes"), "{err}");
        assert!(err.contains("--max-decompressed"), "{err}");
    }
}
