//! Hash algorithms of a field (`hash = "sha256"`), the "looks hashed" test of the hash-state
//! check, and hashing to lowercase hex without touching the heap.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512};

/// The hash a field's value goes through before the template sees it (`hash` in
/// `[destination.fields.X]`; the seed's "Hash" setting: None, SHA256, SHA512 or MD5).
///
/// Names are case-insensitive (`SHA256` = `sha256`), as the seed spells them in upper case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// Sent as is (after normalisation); no hash-state check.
    #[default]
    None,
    /// SHA-256: 64 hex digits. What most ad platforms match on (docs/design/decisions.md, Fields).
    Sha256,
    /// SHA-512: 128 hex digits.
    Sha512,
    /// MD5: 32 hex digits (some platforms accept it for mobile advertising IDs).
    Md5,
}

/// The accepted names, in the order the error message lists them.
const NAMES: [(&str, HashAlgorithm); 4] = [
    ("none", HashAlgorithm::None),
    ("sha256", HashAlgorithm::Sha256),
    ("sha512", HashAlgorithm::Sha512),
    ("md5", HashAlgorithm::Md5),
];

/// Room for the longest digest in hex (SHA-512: 128 digits), on the caller's stack.
pub type HexBuf = [u8; 128];

impl HashAlgorithm {
    /// The configuration name (`"sha256"`).
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgorithm::None => "none",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
            HashAlgorithm::Md5 => "md5",
        }
    }

    /// Number of hex digits of a digest: 64, 128 or 32; `None` for [`HashAlgorithm::None`].
    pub const fn hex_len(self) -> Option<usize> {
        match self {
            HashAlgorithm::None => None,
            HashAlgorithm::Sha256 => Some(64),
            HashAlgorithm::Sha512 => Some(128),
            HashAlgorithm::Md5 => Some(32),
        }
    }

    /// Whether `value` looks like a digest of this algorithm: exactly [`hex_len`] hex digits,
    /// either case (the seed's per-algorithm regex, so 64 hex digits in an MD5 field do not).
    /// Always false for [`HashAlgorithm::None`].
    ///
    /// [`hex_len`]: HashAlgorithm::hex_len
    pub fn looks_hashed(self, value: &str) -> bool {
        self.hex_len().is_some_and(|n| value.len() == n && value.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// Hashes `input` and writes the digest as lowercase hex into `buf`, returning that text;
    /// `None` for [`HashAlgorithm::None`]. Allocates nothing.
    #[inline]
    pub fn hash_hex<'b>(self, input: &[u8], buf: &'b mut HexBuf) -> Option<&'b str> {
        match self {
            HashAlgorithm::None => None,
            HashAlgorithm::Sha256 => Some(encode(&Sha256::digest(input), &mut buf[..64])),
            HashAlgorithm::Sha512 => Some(encode(&Sha512::digest(input), &mut buf[..128])),
            HashAlgorithm::Md5 => Some(encode(&Md5::digest(input), &mut buf[..32])),
        }
    }
}

#[inline]
fn encode<'b>(digest: &[u8], out: &'b mut [u8]) -> &'b str {
    // `out` is sliced to exactly twice the digest's length above, the one way this can fail.
    const_hex::encode_to_str(digest, out).expect("hex buffer sized for the digest")
}

/// An unknown hash name; its message lists the accepted ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHash(pub String);

impl fmt::Display for UnknownHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown hash algorithm `{}`: expected one of none, sha256, sha512, md5 (any case)", self.0)
    }
}

impl std::error::Error for UnknownHash {}

impl FromStr for HashAlgorithm {
    type Err = UnknownHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, algorithm)| algorithm)
            .ok_or_else(|| UnknownHash(s.to_owned()))
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for HashAlgorithm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for HashAlgorithm {
    /// Through [`FromStr`], since derive cannot match names case-insensitively. The config
    /// loader's error wraps this message with the key it came from.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HashAlgorithm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of none, sha256, sha512, md5")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HashAlgorithm, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case() {
        for (text, want) in [
            ("none", HashAlgorithm::None),
            ("NONE", HashAlgorithm::None),
            ("sha256", HashAlgorithm::Sha256),
            ("SHA256", HashAlgorithm::Sha256),
            ("Sha512", HashAlgorithm::Sha512),
            ("MD5", HashAlgorithm::Md5),
        ] {
            assert_eq!(text.parse::<HashAlgorithm>(), Ok(want), "{text}");
        }
        for bad in ["", "sha1", "sha-256", " sha256"] {
            let err = bad.parse::<HashAlgorithm>().unwrap_err();
            assert!(err.to_string().contains("none, sha256, sha512, md5"), "{err}");
        }
    }

    #[test]
    fn lengths_and_looks_hashed() {
        assert_eq!(HashAlgorithm::Sha256.hex_len(), Some(64));
        assert_eq!(HashAlgorithm::Sha512.hex_len(), Some(128));
        assert_eq!(HashAlgorithm::Md5.hex_len(), Some(32));
        assert_eq!(HashAlgorithm::None.hex_len(), None);
        assert!(HashAlgorithm::Md5.looks_hashed("D41D8CD98F00B204E9800998ECF8427E"));
        assert!(!HashAlgorithm::Md5.looks_hashed("d41d8cd98f00b204e9800998ecf8427g"));
        assert!(!HashAlgorithm::None.looks_hashed("d41d8cd98f00b204e9800998ecf8427e"));
    }

    #[test]
    fn digests_are_lowercase_hex() {
        let mut buf = [0; 128];
        assert_eq!(
            HashAlgorithm::Sha256.hash_hex(b"", &mut buf),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(HashAlgorithm::Md5.hash_hex(b"", &mut buf), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(HashAlgorithm::None.hash_hex(b"", &mut buf), None);
    }
}
