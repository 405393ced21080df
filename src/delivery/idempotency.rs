//! The `Idempotency-Key` of a request: derived from the sync, the run, the action and the
//! records in the request (docs/design/sync.md, Delivery). Every retry of a request carries the same key, so
//! an API that honours the header applies a timed-out-but-accepted request once; each half of a
//! split request holds other records, so it gets a key of its own.

use sha2::{Digest, Sha256};

/// The header name.
pub const HEADER: &str = "Idempotency-Key";

/// The key of a request of `sync`'s run `run_id` for `action`, holding the records whose
/// primary keys (as the sync log writes them) are `records`, in request order.
///
/// SHA-256 over a versioned, length-prefixed encoding (so that no two different inputs encode
/// alike: `("a,b")` and `("a", "b")` differ), shown as the first 128 bits in lowercase hex: 32
/// characters, short for a header and far from any chance collision.
pub fn idempotency_key<'a>(
    sync: &str,
    run_id: u64,
    action: &str,
    records: impl IntoIterator<Item = &'a [u8]>,
) -> String {
    let mut hash = Sha256::new();
    hash.update(b"audience idempotency v1\0");
    field(&mut hash, sync.as_bytes());
    hash.update(run_id.to_be_bytes());
    field(&mut hash, action.as_bytes());
    let mut count = 0u64;
    for record in records {
        field(&mut hash, record);
        count += 1;
    }
    // The count closes the list, so a list is never a prefix of a longer one's encoding.
    hash.update(count.to_be_bytes());
    let digest = hash.finalize();
    const_hex::encode(&digest[..16])
}

fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sync: &str, run: u64, action: &str, records: &[&str]) -> String {
        idempotency_key(sync, run, action, records.iter().map(|r| r.as_bytes()))
    }

    #[test]
    fn stable_and_shaped_for_a_header() {
        let k = key("high_value", 7, "add", &["1", "2", "3"]);
        assert_eq!(k, key("high_value", 7, "add", &["1", "2", "3"]));
        assert_eq!(k.len(), 32);
        assert!(k.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // Pinned: the key must not change between releases, or a request resent after an
        // upgrade would not be recognised.
        assert_eq!(k, "9140c096191cc3eca2b21cf3431725de");
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = key("s", 1, "add", &["1", "2"]);
        let others = [
            key("t", 1, "add", &["1", "2"]),
            key("s", 2, "add", &["1", "2"]),
            key("s", 1, "remove", &["1", "2"]),
            key("s", 1, "add", &["1"]),
            key("s", 1, "add", &["2"]),
            key("s", 1, "add", &["2", "1"]),
            key("s", 1, "add", &["1", "2", "3"]),
            key("s", 1, "add", &["12"]),
            key("s", 1, "add", &["1,2"]),
            key("s", 1, "add", &["1", "", "2"]),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(&base, other, "variant {i}");
        }
        // Two halves of one request, and the request itself, all differ.
        let whole = key("s", 1, "add", &["1", "2", "3", "4"]);
        let (a, b) = (key("s", 1, "add", &["1", "2"]), key("s", 1, "add", &["3", "4"]));
        assert!(whole != a && whole != b && a != b);
    }
}
