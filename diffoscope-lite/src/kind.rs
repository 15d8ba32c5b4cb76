//! The closed list of formats content detection can name. It sits below
//! everything else (errors name the format they failed on), so it depends
//! on nothing; [`crate::formats`] re-exports it next to the readers.

use std::fmt;

/// Every format diffoscope-lite knows, as detected from content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A directory on disk (detected from the filesystem, not from bytes).
    Directory,
    /// Zip and its dialects: wheel, jar, apk, nupkg.
    Zip,
    /// Tar: v7, ustar, GNU, PAX.
    Tar,
    /// Gzip (one or more members).
    Gzip,
    /// Xz.
    Xz,
    /// Zstandard.
    Zstd,
    /// Bzip2.
    Bzip2,
    /// LZ4 frames.
    Lz4,
    /// Lzip.
    Lzip,
    /// Legacy LZMA ("LZMA alone", `.lzma`).
    Lzma,
    /// cpio: newc, odc and old binary.
    Cpio,
    /// SquashFS 4.0 images.
    Squashfs,
    /// ISO 9660 images (with Rock Ridge).
    Iso9660,
    /// Android boot images (header versions 0 to 2).
    AndroidBoot,
    /// Binary OpenPGP messages (a signed file: its literal data inside).
    Pgp,
    /// Unix ar, including Debian `.deb` packages.
    Ar,
    /// An OCI image layout directory (detected from the filesystem).
    OciLayout,
    /// ELF objects, executables and shared libraries (compared by section).
    Elf,
    /// Mach-O objects, executables and libraries, thin or fat (universal).
    MachO,
    /// Rust bytecode containers (`RUST_OBJECT`, deflated LLVM bitcode in
    /// old `.rlib` files).
    RustObject,
    /// Python bytecode caches: header fields, then the code object as bytes.
    Pyc,
    /// JSON (compared pretty-printed with sorted keys).
    Json,
    /// UTF-8 text.
    Text,
    /// Anything else: compared as bytes.
    Binary,
}

impl Kind {
    /// Whether content of this kind holds entries to recurse into.
    pub fn is_container(self) -> bool {
        match self {
            Kind::Directory
            | Kind::Zip
            | Kind::Tar
            | Kind::Gzip
            | Kind::Xz
            | Kind::Zstd
            | Kind::Bzip2
            | Kind::Lz4
            | Kind::Lzma
            | Kind::Lzip
            | Kind::Ar
            | Kind::Cpio
            | Kind::Squashfs
            | Kind::Iso9660
            | Kind::AndroidBoot
            | Kind::Pgp
            | Kind::OciLayout
            | Kind::Elf
            | Kind::MachO
            | Kind::RustObject
            | Kind::Pyc => true,
            Kind::Json | Kind::Text | Kind::Binary => false,
        }
    }

    /// Whether this is a single-stream compressor (its one entry is the
    /// decompressed stream).
    pub fn is_compressor(self) -> bool {
        matches!(
            self,
            Kind::Gzip | Kind::Xz | Kind::Zstd | Kind::Bzip2 | Kind::Lz4 | Kind::Lzma | Kind::Lzip
        )
    }

    /// Whether content of this kind is compared as text.
    pub fn is_text(self) -> bool {
        matches!(self, Kind::Json | Kind::Text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Directory => "directory",
            Kind::Zip => "zip",
            Kind::Tar => "tar",
            Kind::Gzip => "gzip",
            Kind::Xz => "xz",
            Kind::Zstd => "zstd",
            Kind::Bzip2 => "bzip2",
            Kind::Lz4 => "lz4",
            Kind::Lzma => "lzma",
            Kind::Lzip => "lzip",
            Kind::Ar => "ar",
            Kind::Cpio => "cpio",
            Kind::Squashfs => "squashfs",
            Kind::Iso9660 => "ISO 9660",
            Kind::AndroidBoot => "Android boot image",
            Kind::Pgp => "OpenPGP",
            Kind::OciLayout => "OCI image layout",
            Kind::Elf => "ELF",
            Kind::MachO => "Mach-O",
            Kind::RustObject => "Rust bytecode",
            Kind::Pyc => "pyc",
            Kind::Json => "JSON",
            Kind::Text => "text",
            Kind::Binary => "binary",
        })
    }
}
