//! Content digests (`sha256:<64 hex>`), the only algorithm the store writes.

use std::fmt;
use std::io::{self, Write};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use super::error::{Error, Result};

/// A validated sha256 content digest. Its hex part is safe to use as a file
/// name: it is exactly 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hash(Sha256::digest(bytes).into())
    }

    /// The digest with the given raw sha256 value.
    pub fn from_hash(hash: [u8; 32]) -> Digest {
        Digest { hex: hex::encode(hash) }
    }

    /// Parses `sha256:<64 lowercase hex>`; any other algorithm or shape is
    /// an error, so a parsed digest never names a path outside the blob dir.
    pub fn parse(s: &str) -> Result<Digest> {
        let Some((algorithm, hex)) = s.split_once(':') else {
            return Err(Error::Invalid(format!("invalid digest {s:?}: expected algorithm:hex")));
        };
        if algorithm != "sha256" {
            return Err(Error::Invalid(format!("unsupported digest algorithm {algorithm:?} in {s:?}")));
        }
        Digest::from_hex(hex).ok_or_else(|| Error::Invalid(format!("invalid sha256 digest {s:?}")))
    }

    /// A digest from its 64-digit lowercase hex part, or `None`.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Digest { hex: hex.to_string() })
    }

    /// The hex part, as used for blob file names.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Digest, D::Error> {
        let s = String::deserialize(deserializer)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A running sha256 with a byte count.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    /// A hasher over no bytes yet.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes went in.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes went in.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        Digest::from_hash(self.sha.finalize().into())
    }
}

impl Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The digest of everything `reader` yields, and its length.
pub fn digest_reader(reader: &mut impl io::Read) -> io::Result<(Digest, u64)> {
    let mut hasher = Hasher::new();
    io::copy(reader, &mut hasher)?;
    let len = hasher.len();
    Ok((hasher.finish(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_known_vectors() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::of(b"abc").hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let mut h = Hasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.len(), 3);
        assert_eq!(h.finish(), Digest::of(b"abc"));
    }

    #[test]
    fn parse_accepts_only_canonical_sha256() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha512:abcd",
            "sha256:../../etc/passwd",
            &format!("sha256:{}", d.hex().to_uppercase()),
            &format!("sha256:{}0", d.hex()),
            &format!("sha256:{}", &d.hex()[1..]),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"md5:00\"").is_err());
    }
}
