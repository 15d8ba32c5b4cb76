//! Android boot images (`ANDROID!`, header versions 0 to 2), read as
//! `abootimg -x` unpacks them, which is what diffoscope shows: members
//! `bootimg.cfg` (abootimg's configuration text), `zImage` (the kernel),
//! `initrd.img` (the ramdisk, usually a gzip'd cpio that the differ then
//! reads as such) and `stage2.img` when there is a second stage. The
//! recovery DTBO of a version 1 header and the DTB of a version 2 one,
//! which abootimg leaves out, are members too (`recovery_dtbo.img`,
//! `dtb.img`), so that no byte of the image goes uncompared.
//!
//! [`read`] is the one parser: it checks that every part lies inside the
//! image, and hands parts out as byte ranges of it. Version 3 and 4
//! headers (another layout) are compared as bytes. The normalizer leaves
//! boot images alone (their bytes are digested as they are).

use super::{lossy, plain_entry, Format, Kind, Parsed};
use crate::blob::Blob;
use crate::model::{Content, Cx};
use crate::{Error, Result};

/// Android boot images.
pub struct AndroidBoot;

/// The magic every boot image starts with.
const MAGIC: &[u8] = b"ANDROID!";
/// The header's length up to the end of the version 2 fields.
const HEADER_V2: usize = 1660;

/// A little-endian `u32` at `at` of `h` (long enough: checked by callers).
fn le32(h: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]])
}

/// A NUL-terminated string field (the whole field when it has no NUL).
fn cstr(field: &[u8]) -> String {
    lossy(field.split(|&b| b == 0).next().unwrap_or(field))
}

/// A boot image's parts, as [`read`] found them.
#[derive(Debug)]
pub(crate) struct Image {
    /// abootimg's `bootimg.cfg`.
    pub(crate) config: String,
    /// The parts, in image order: name and bytes.
    pub(crate) parts: Vec<(&'static str, Blob)>,
}

/// Reads the boot image in `blob`, named `name` in errors; `None` for a
/// version 3 or 4 header, which has another layout.
pub(crate) fn read(blob: &Blob, name: &str) -> Result<Option<Image>> {
    let bad = |detail: String| Error::Malformed {
        entry: name.to_owned(),
        format: Kind::AndroidBoot,
        detail,
    };
    let io = |e| Error::Io {
        entry: name.to_owned(),
        action: "reading Android boot image",
        source: e,
    };
    let h = blob.head(HEADER_V2).map_err(io)?;
    if h.len() < 608 || !h.starts_with(MAGIC) {
        return Err(bad(format!("header cut short ({} bytes)", h.len())));
    }
    // Offset 40 is the header version since version 1; older images keep
    // it zero, or (Qualcomm's) put a device tree size there, read as v0.
    let version = match le32(&h, 40) {
        3 | 4 => return Ok(None),
        v @ (1 | 2) => v,
        _ => 0,
    };
    let page = u64::from(le32(&h, 36));
    if !page.is_power_of_two() || !(512..=65536).contains(&page) {
        return Err(bad(format!("page size {page}")));
    }
    let pages = |size: u64| size.div_ceil(page);
    let field = |at: usize| u64::from(le32(&h, at));
    let (kernel, ramdisk, second) = (field(8), field(16), field(24));
    let mut parts = Vec::new();
    let mut part = |what: &'static str, at: u64, len: u64| -> Result<()> {
        let data = blob.slice(at, len).ok_or_else(|| {
            bad(format!(
                "{what} of {len} bytes at offset {at} lies beyond the image's {} bytes",
                blob.len()
            ))
        })?;
        parts.push((what, data));
        Ok(())
    };
    let mut at = page;
    part("zImage", at, kernel)?;
    at += pages(kernel) * page;
    part("initrd.img", at, ramdisk)?;
    at += pages(ramdisk) * page;
    if second > 0 {
        part("stage2.img", at, second)?;
    }
    at += pages(second) * page;
    if version >= 1 {
        let need = if version == 1 { 1648 } else { HEADER_V2 };
        if h.len() < need {
            return Err(bad(format!("version {version} header cut short")));
        }
        let dtbo = field(1632);
        let dtbo_at = u64::from(le32(&h, 1636)) | (u64::from(le32(&h, 1640)) << 32);
        if dtbo > 0 {
            part("recovery_dtbo.img", dtbo_at, dtbo)?;
        }
        at += pages(dtbo) * page;
        if version == 2 {
            let dtb = field(1648);
            if dtb > 0 {
                part("dtb.img", at, dtb)?;
            }
        }
    }
    // Exactly what abootimg 0.6 writes; `bootsize` is the image's size.
    let config = format!(
        "bootsize = 0x{:x}\npagesize = 0x{page:x}\nkerneladdr = 0x{:x}\nramdiskaddr = 0x{:x}\n\
         secondaddr = 0x{:x}\ntagsaddr = 0x{:x}\nname = {}\ncmdline = {}\n",
        blob.len(),
        le32(&h, 12),
        le32(&h, 20),
        le32(&h, 28),
        le32(&h, 32),
        cstr(&h[48..64]),
        cstr(&h[64..576]),
    );
    Ok(Some(Image { config, parts }))
}

impl Format for AndroidBoot {
    fn kind(&self) -> Kind {
        Kind::AndroidBoot
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(MAGIC)
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let Some(image) = read(&content.blob(cx, name)?, name)? else {
            return Ok(Parsed::Binary);
        };
        let mut entries = vec![plain_entry(
            0,
            "bootimg.cfg",
            Content::memory(image.config.into_bytes()),
        )];
        for (what, data) in &image.parts {
            cx.budget.add_entry(&format!("{name}::{what}"))?;
            entries.push(plain_entry(entries.len(), what, Content::of_blob(data)));
        }
        Ok(super::archive(
            Kind::AndroidBoot,
            entries,
            Vec::new(),
            Vec::new(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version `version` image with 2 KiB pages: a 4-byte kernel, a
    /// 5-byte ramdisk and, when given, a second stage.
    fn image(version: u32, second: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 2048];
        h[..8].copy_from_slice(MAGIC);
        let mut put = |at: usize, v: u32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put(8, 4);
        put(12, 0x4000_8000);
        put(16, 5);
        put(20, 0x4100_0000);
        put(24, second.len() as u32);
        put(28, 0x40f0_0000);
        put(32, 0x4000_0100);
        put(36, 2048);
        put(40, version);
        h[48..56].copy_from_slice(b"bootimg1");
        h[64..78].copy_from_slice(b"console=ttyS1 ");
        let mut img = h;
        for part in [&b"kern"[..], b"initr", second] {
            if !part.is_empty() {
                img.extend_from_slice(part);
                img.resize(img.len().div_ceil(2048) * 2048, 0);
            }
        }
        img
    }

    #[test]
    fn parts_and_config_as_abootimg_writes_them() {
        let img = read(&Blob::mem(image(0, b"two")), "b.img")
            .unwrap()
            .unwrap();
        assert_eq!(
            img.config,
            "bootsize = 0x2000\npagesize = 0x800\nkerneladdr = 0x40008000\n\
             ramdiskaddr = 0x41000000\nsecondaddr = 0x40f00000\ntagsaddr = 0x40000100\n\
             name = bootimg1\ncmdline = console=ttyS1 \n"
        );
        let parts: Vec<_> = img
            .parts
            .iter()
            .map(|(n, b)| (*n, b.read_vec(0, b.len()).unwrap()))
            .collect();
        assert_eq!(
            parts,
            [
                ("zImage", b"kern".to_vec()),
                ("initrd.img", b"initr".to_vec()),
                ("stage2.img", b"two".to_vec()),
            ]
        );
        // No second stage, no member for it.
        let img = read(&Blob::mem(image(0, b"")), "b.img").unwrap().unwrap();
        assert_eq!(img.parts.len(), 2);
    }

    #[test]
    fn parts_beyond_the_image_are_errors_and_v3_is_bytes() {
        let mut cut = image(0, b"two");
        cut.truncate(2048 + 2);
        let err = read(&Blob::mem(cut), "b.img").unwrap_err().to_string();
        assert!(
            err.contains("b.img: malformed Android boot image: zImage of 4 bytes at offset 2048"),
            "{err}"
        );
        let mut odd = image(0, b"");
        odd[36..40].copy_from_slice(&1000u32.to_le_bytes());
        let err = read(&Blob::mem(odd), "b.img").unwrap_err().to_string();
        assert!(err.contains("page size 1000"), "{err}");
        assert!(read(&Blob::mem(image(3, b"")), "b.img").unwrap().is_none());
    }
}
