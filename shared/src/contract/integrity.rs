//! Every file a stage hands to another is checked when it is read: the
//! writing stage records each file's digest in its output (the JSON on the
//! wire, [`Files`]), and the reading stage reads through a
//! [`crate::contract::checked_store::CheckedStore`] that refuses a file
//! whose bytes are not the ones recorded, naming it. A byte flipped on a
//! disk, a truncated upload, a file replaced by another run's: each is an
//! error, never a model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::contract::error::{Error, Result};

/// The digest of a file's bytes: `xxh3-128:` and 32 hex digits. xxh3 is
/// specified (the same value in every build and release) and reads at
/// memory speed; it guards against damage, not against an attacker who can
/// also rewrite the stage's output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest(String);

const SCHEME: &str = "xxh3-128:";

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("{SCHEME}{:032x}", xxhash_rust::xxh3::xxh3_128(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A digest as stored (the database's copy).
    pub fn from_stored(s: String) -> Digest {
        Digest(s)
    }

    /// # Errors
    /// [`Error::Corrupt`] naming `key` when `bytes` are not the ones this
    /// digest was taken of.
    pub fn check(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let found = Digest::of(bytes);
        if found == *self {
            Ok(())
        } else {
            Err(Error::Corrupt {
                key: key.to_string(),
                why: format!(
                    "its {} bytes have digest {}, not the {} its writer recorded",
                    bytes.len(),
                    found.0,
                    self.0
                ),
            })
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The files a stage wrote, by key, with their digests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Files(BTreeMap<String, Digest>);

impl Files {
    pub fn new() -> Files {
        Files::default()
    }

    pub fn insert(&mut self, key: &impl std::fmt::Display, digest: Digest) {
        self.0.insert(key.to_string(), digest);
    }

    pub fn get(&self, key: &str) -> Option<&Digest> {
        self.0.get(key)
    }

    /// Every file of `other` too.
    pub fn extend(&mut self, other: &Files) {
        self.0.extend(other.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Digest)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_xxh3_128_of_the_bytes_and_names_the_file_it_refuses() {
        assert_eq!(
            Digest::of(b"").as_str(),
            "xxh3-128:99aa06d3014798d86001c324468d497f",
            "the digest is xxh3-128 as specified"
        );
        let d = Digest::of(b"PAR1 data PAR1");
        assert!(d.check("k", b"PAR1 data PAR1").is_ok());
        let e = d.check("runs/s/r/dwell.parquet", b"PAR1 dbta PAR1").unwrap_err();
        assert!(e.to_string().contains("runs/s/r/dwell.parquet"), "{e}");
        assert_eq!(e.kind(), crate::contract::error::ErrorKind::Data);
    }
}
