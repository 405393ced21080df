//! Keeping secrets out of what a response echoes (docs/design/sync.md, Security: secrets never appear in
//! response snippets, the sync log included), and cutting response text down to a reason. Used
//! by delivery and by a warehouse connector that speaks HTTP (Snowflake).

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

/// What a secret is shown as.
pub const MASK: &str = "***";

/// Longest excerpt of a response body kept in a record's failure reason, in bytes: enough for
/// an API's error message, short enough for one sync-log row per record.
pub const SNIPPET_BYTES: usize = 512;

/// Masks known secrets in text.
///
/// A secret is masked in each form it can take in a response: as written, JSON-escaped (an API
/// echoing a header value inside a JSON string) and percent-encoded (echoing a URL). The
/// longest forms go first, so that a secret containing another is masked whole.
///
/// Secrets can be added while requests are in flight (a credential fetched during a run: see
/// [`crate::http::auth`]); clones share their secrets, so one added through any clone is masked
/// by all from then on.
#[derive(Clone, Default)]
pub struct Masker {
    forms: Arc<RwLock<Vec<String>>>,
}

impl Masker {
    /// A masker that hides each of `secrets` (empty ones are ignored) from the start.
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Masker {
        let masker = Masker::default();
        for secret in secrets {
            masker.add(secret.as_ref());
        }
        masker
    }

    /// Adds a secret; an empty one is ignored (there is nothing to hide).
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let json = serde_json::to_string(secret).unwrap_or_default();
        let escaped = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_owned();
        // A panic elsewhere while holding the lock leaves the list whole: use it.
        let mut forms = self.forms.write().unwrap_or_else(|p| p.into_inner());
        for form in [secret.to_owned(), escaped, percent_encode(secret)] {
            if !form.is_empty() && !forms.contains(&form) {
                forms.push(form);
            }
        }
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    }

    /// `text` with every form of every secret replaced by [`MASK`].
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let forms = self.forms.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Cow::Borrowed(text);
        for form in forms.iter() {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), MASK));
            }
        }
        out
    }
}

impl crate::http::auth::SecretSink for Masker {
    fn add_secret(&self, secret: &str) {
        self.add(secret);
    }
}

impl std::fmt::Debug for Masker {
    /// Never the secrets: only how many forms are masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masker({} forms)", self.forms.read().map_or(0, |forms| forms.len()))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (as path placeholders are).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The start of a response body as one line of text for a failure reason: decoded as UTF-8
/// (invalid bytes replaced), secrets masked *before* cutting (so a cut never leaves a partial
/// secret behind), runs of white space and control characters collapsed to one space, and cut
/// at a character boundary to at most [`SNIPPET_BYTES`] bytes, with `…` when cut.
pub fn snippet(body: &[u8], masker: &Masker) -> String {
    let text = String::from_utf8_lossy(body);
    let masked = masker.mask(&text);
    let mut out = String::with_capacity(masked.len().min(SNIPPET_BYTES + 3));
    let mut space = false;
    for c in masked.trim().chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        let extra = if space { 1 } else { 0 };
        if out.len() + extra + c.len_utf8() > SNIPPET_BYTES {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_form_longest_first() {
        let m = Masker::new(["tok", "a b/\"c", ""]);
        let table = [
            ("Bearer tok", "Bearer ***"),
            ("tokens", "***ens"),
            ("x a b/\"c y", "x *** y"),
            (r#"{"k":"a b/\"c"}"#, r#"{"k":"***"}"#),
            ("/v/a%20b%2F%22c", "/v/***"),
            ("nothing here", "nothing here"),
        ];
        for (text, want) in table {
            assert_eq!(m.mask(text), want, "{text:?}");
        }
        assert!(matches!(m.mask("clean"), Cow::Borrowed(_)));
        assert!(!format!("{m:?}").contains("tok"));
    }

    #[test]
    fn a_secret_added_later_is_masked_by_every_clone() {
        let m = Masker::new(["first"]);
        let action = m.clone();
        assert_eq!(action.mask("first fresh"), "*** fresh");
        // A token fetched during the run, handed over through the credential seam.
        crate::http::auth::SecretSink::add_secret(&m, "fresh");
        assert_eq!(action.mask("first fresh"), "*** ***");
        assert_eq!(m.mask("{\"t\":\"fresh\"}"), "{\"t\":\"***\"}");
    }

    #[test]
    fn snippets() {
        let m = Masker::new(["s3cr3t"]);
        let long = "x".repeat(SNIPPET_BYTES + 10);
        let at_edge = format!("{}s3cr3t tail", "y".repeat(SNIPPET_BYTES - 3));
        let table: Vec<(&[u8], String)> = vec![
            (b"", String::new()),
            (b"  {\"error\": \"bad\"}\n", "{\"error\": \"bad\"}".into()),
            (b"line one\r\n\r\n\tline two", "line one line two".into()),
            (b"echo: Bearer s3cr3t!", "echo: Bearer ***!".into()),
            (b"bad \xff byte", "bad \u{fffd} byte".into()),
            (b"nul\0inside", "nul inside".into()),
            (long.as_bytes(), format!("{}…", "x".repeat(SNIPPET_BYTES))),
            // The secret straddles the cut: masked first, so no part of it survives.
            (at_edge.as_bytes(), format!("{}***…", "y".repeat(SNIPPET_BYTES - 3))),
        ];
        for (body, want) in table {
            let got = snippet(body, &m);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(body));
            assert!(got.len() <= SNIPPET_BYTES + '…'.len_utf8());
        }
        // Multi-byte characters are never cut in the middle.
        let wide = "é".repeat(SNIPPET_BYTES);
        let got = snippet(wide.as_bytes(), &m);
        assert!(got.ends_with('…') && got.len() <= SNIPPET_BYTES + 3);
    }
}
