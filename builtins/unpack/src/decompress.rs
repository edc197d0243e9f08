//! Recognising an archive's compression by its magic bytes, as buildah's
//! ADD does, and wrapping the stream in the matching pure-Rust decoder.

use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// The compressions an ADD archive may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// Reads the compression off the first bytes of a stream.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The name users know it by.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// The archive's tar stream, decompressed as its magic bytes say, and the
/// compression found.
pub fn open<'a, R: Read + 'a>(archive: R) -> io::Result<(Box<dyn Read + 'a>, Compression)> {
    let mut buffered = BufReader::with_capacity(1 << 16, archive);
    let compression = Compression::sniff(buffered.fill_buf()?);
    let stream: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(buffered),
        // Multi-member gzip files (pigz, our own layers) are one stream.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(buffered, true)),
        Compression::Zstd => Box::new(ZstdFrames::new(buffered)?),
    };
    Ok((stream, compression))
}

/// A zstd stream of one or more frames (pzstd and concatenated files write
/// several); ruzstd's decoder reads one frame.
struct ZstdFrames<R: BufRead> {
    frame: Option<StreamingDecoder<R, FrameDecoder>>,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> io::Result<Self> {
        let frame = StreamingDecoder::new(source).map_err(zstd_error)?;
        Ok(ZstdFrames { frame: Some(frame) })
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(frame) = self.frame.as_mut() else { return Ok(0) };
            let n = frame.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(frame) = self.frame.take() else { return Ok(0) };
            let (mut source, decoder) = frame.into_parts();
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.frame = Some(StreamingDecoder::new_with_decoder(source, decoder).map_err(zstd_error)?);
        }
    }
}

fn zstd_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_magic() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]), Compression::Xz);
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 1]), Compression::Zstd);
        assert_eq!(Compression::sniff(b"etc/hosts\0"), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }
}
