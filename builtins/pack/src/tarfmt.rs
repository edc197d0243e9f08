//! Deterministic ustar headers, with PAX extended headers for what ustar
//! cannot hold (names and link targets over 100 bytes, sizes of 8 GiB and
//! more).
//!
//! Written by hand rather than through the `tar` crate: its path-based
//! helpers panic on wasm32, and its header setters rewrite paths (dropping a
//! directory's trailing `/`); here every byte is ours to pin.

/// One tar block.
pub const BLOCK: usize = 512;

/// The kinds of entries the packer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A regular file with content.
    File,
    /// A hard link to an earlier entry.
    HardLink,
    /// A symbolic link.
    Symlink,
    /// A directory.
    Dir,
}

impl EntryType {
    fn flag(self) -> u8 {
        match self {
            EntryType::File => b'0',
            EntryType::HardLink => b'1',
            EntryType::Symlink => b'2',
            EntryType::Dir => b'5',
        }
    }
}

/// Everything a header says about an entry. Owner is always 0:0 with no
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader<'a> {
    /// The entry's name in the archive (directories end with `/`).
    pub name: &'a str,
    /// Its type.
    pub kind: EntryType,
    /// Permission bits.
    pub mode: u32,
    /// Content size (files only; 0 otherwise).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Link target (hard links and symlinks).
    pub link: Option<&'a str>,
}

/// The largest value an 11-digit octal field holds.
const MAX_OCTAL_11: u64 = 0o777_7777_7777;
const NAME_LEN: usize = 100;

/// Appends the header block(s) for `h` to `out`: a PAX extended header
/// first when needed, then the ustar header.
pub fn write_header(out: &mut Vec<u8>, h: &EntryHeader<'_>) {
    let mut pax = Vec::new();
    if h.name.len() > NAME_LEN {
        pax_record(&mut pax, "path", h.name.as_bytes());
    }
    if let Some(link) = h.link.filter(|l| l.len() > NAME_LEN) {
        pax_record(&mut pax, "linkpath", link.as_bytes());
    }
    if h.size > MAX_OCTAL_11 {
        pax_record(&mut pax, "size", h.size.to_string().as_bytes());
    }
    if !pax.is_empty() {
        let pax_header = EntryHeader {
            name: "PaxHeader",
            kind: EntryType::File,
            mode: 0o644,
            size: pax.len() as u64,
            mtime: h.mtime,
            link: None,
        };
        out.extend_from_slice(&ustar_block(&pax_header, b'x'));
        out.extend_from_slice(&pax);
        pad(out, pax.len() as u64);
    }
    out.extend_from_slice(&ustar_block(h, h.kind.flag()));
}

/// Appends the zeros that round `len` bytes of content up to a block.
pub fn pad(out: &mut Vec<u8>, len: u64) {
    let rem = (len % BLOCK as u64) as usize;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

/// How many padding bytes follow `len` bytes of content.
pub fn padding(len: u64) -> usize {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 { 0 } else { BLOCK - rem }
}

/// The end-of-archive marker: two zero blocks.
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the
/// whole record including its own digits.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = 1 + key.len() + 1 + value.len() + 1; // " key=value\n"
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn ustar_block(h: &EntryHeader<'_>, flag: u8) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    // Over-long names and links are in the PAX header; the ustar fields get
    // their first 100 bytes, which readers without PAX show.
    copy_truncated(&mut b[0..100], h.name.as_bytes());
    octal(&mut b[100..108], u64::from(h.mode & 0o7777));
    octal(&mut b[108..116], 0);
    octal(&mut b[116..124], 0);
    octal(&mut b[124..136], if h.size > MAX_OCTAL_11 { 0 } else { h.size });
    octal(&mut b[136..148], h.mtime.min(MAX_OCTAL_11));
    b[156] = flag;
    if let Some(link) = h.link {
        copy_truncated(&mut b[157..257], link.as_bytes());
    }
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    octal(&mut b[329..337], 0);
    octal(&mut b[337..345], 0);
    // The checksum is computed with its own field as spaces.
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    octal(&mut b[148..155], u64::from(sum));
    b
}

fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal filling all but the last byte, which stays NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    let s = &s.as_bytes()[s.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(s);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut v = vec![];
        pax_record(&mut v, "path", b"abc");
        assert_eq!(v, b"12 path=abc\n");
        // Lengths around 100, where the length's own digits grow.
        for n in 80..120 {
            let mut v = vec![];
            pax_record(&mut v, "path", "x".repeat(n).as_bytes());
            let text = String::from_utf8(v.clone()).unwrap();
            let (len, _) = text.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), v.len(), "{text:?}");
        }
    }

    #[test]
    fn header_fields_and_checksum() {
        let mut out = vec![];
        let h = EntryHeader { name: "etc/", kind: EntryType::Dir, mode: 0o40755, size: 0, mtime: 1, link: None };
        write_header(&mut out, &h);
        assert_eq!(out.len(), BLOCK);
        assert_eq!(&out[0..5], b"etc/\0");
        assert_eq!(&out[100..108], b"0000755\0");
        assert_eq!(&out[136..148], b"00000000001\0");
        assert_eq!(out[156], b'5');
        assert_eq!(&out[257..265], b"ustar\x0000");
        let mut copy = out.clone();
        copy[148..156].fill(b' ');
        let sum: u32 = copy.iter().map(|&x| u32::from(x)).sum();
        let field = std::str::from_utf8(&out[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(field, 8).unwrap(), sum);
        assert_eq!(&out[154..156], b"\0 ");
    }

    #[test]
    fn long_names_and_huge_sizes_get_pax_records() {
        let name = format!("{}/file", "d".repeat(120));
        let mut out = vec![];
        let h = EntryHeader { name: &name, kind: EntryType::File, mode: 0o644, size: 9 << 30, mtime: 0, link: None };
        write_header(&mut out, &h);
        assert_eq!(out.len(), 3 * BLOCK);
        assert_eq!(out[156], b'x');
        let records = String::from_utf8_lossy(&out[BLOCK..2 * BLOCK]);
        assert!(records.contains(&format!(" path={name}\n")), "{records}");
        assert!(records.contains(&format!(" size={}\n", 9u64 << 30)), "{records}");
        assert_eq!(&out[2 * BLOCK + 124..2 * BLOCK + 136], b"00000000000\0");
    }
}
