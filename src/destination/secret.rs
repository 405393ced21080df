//! Strings that may be secrets, and the redactor that masks secrets in text.
//!
//! docs/design/sync.md: secrets (passwords, tokens, API keys, secret headers, the password in a
//! `postgres://` URL) never appear in logs, previews or error messages, and docs/design/interface.md adds
//! that a value that comes from the environment is a secret too. Any string of the config can
//! come from the environment, so every string of the resolved config is a [`Text`] that knows
//! whether it is a secret, and whose `Debug` prints `***` when it is.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// What a secret is shown as.
pub const MASK: &str = "***";

/// A string from the config, with whether it is a secret (a credential setting, a header marked
/// `secret = true`, or any value expanded from an environment variable).
///
/// There is no `Display`: reading the value takes an explicit [`Text::as_str`], and showing it
/// to a person takes [`Text::shown`], which masks a secret.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Text {
    value: String,
    secret: bool,
}

impl Text {
    /// `value`, a secret when `secret` is true.
    pub fn new(value: impl Into<String>, secret: bool) -> Text {
        Text { value: value.into(), secret }
    }

    /// A value that is not a secret.
    pub fn plain(value: impl Into<String>) -> Text {
        Text::new(value, false)
    }

    /// A value that is always a secret (a token, a password, an API key).
    pub fn secret(value: impl Into<String>) -> Text {
        Text::new(value, true)
    }

    /// The value itself, secret or not: for building requests and queries, never for printing.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether the value is a secret (shown as [`MASK`]).
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The value as people may see it: [`MASK`] for a secret.
    pub fn shown(&self) -> &str {
        if self.secret { MASK } else { &self.value }
    }

    /// The same text marked secret when `secret` is true (a secret stays secret).
    pub fn with_secret(mut self, secret: bool) -> Text {
        self.secret |= secret;
        self
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret { f.write_str(MASK) } else { fmt::Debug::fmt(&self.value, f) }
    }
}

/// Masks every known secret in a text: the last line of defence for messages, and for text
/// that echoes configured values (a response body, a preview body).
///
/// Each secret is masked in the forms it can take on the way out: as written, percent-encoded
/// (in a URL) and JSON-escaped (inside a JSON string). Longer secrets are masked first, so that
/// a secret containing another is masked whole. An occurrence is masked where it stands on its
/// own: not where a letter or digit continues it on either side (as `\b` would say), so that a
/// short secret such as `p` does not mask every `p` of every word, while a secret in quotes, in
/// a URL or after `Bearer ` is masked.
///
/// Secrets can be added while the program runs (a credential fetched during a run: see
/// `crate::http::auth`); clones share their secrets, so one added through any clone is
/// redacted by all from then on.
#[derive(Clone, Default)]
pub struct Redactor {
    known: Arc<RwLock<Known>>,
}

/// What a [`Redactor`] knows.
#[derive(Default)]
struct Known {
    /// The secrets as given (for layers that mask in their own way, such as delivery's).
    secrets: Vec<String>,
    /// Every form of every secret, longest first, without duplicates or empty strings.
    forms: Vec<String>,
}

impl Redactor {
    /// A redactor that masks each of `secrets` (and the parts each is made of) from the start.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Adds a secret (an empty one is ignored: there is nothing to hide), and the secrets it is
    /// made of ([`secret_parts`]).
    pub fn add(&self, secret: &str) {
        // A panic elsewhere while holding the lock leaves the lists whole: use them.
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        for secret in std::iter::once(secret.to_owned()).chain(secret_parts(secret)) {
            if !secret.is_empty() && !known.secrets.contains(&secret) {
                Self::add_forms(&mut known, &secret);
            }
        }
    }

    fn add_forms(known: &mut Known, secret: &str) {
        known.secrets.push(secret.to_owned());
        let json = serde_json::to_string(secret).unwrap_or_default();
        let escaped = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_owned();
        for form in [secret.to_owned(), super::url::percent_encode(secret), escaped] {
            if !form.is_empty() && !known.forms.contains(&form) {
                known.forms.push(form);
            }
        }
        known.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    fn known(&self) -> RwLockReadGuard<'_, Known> {
        self.known.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.known().forms.is_empty()
    }

    /// The secrets, as given (those known now).
    pub fn secrets(&self) -> Vec<String> {
        self.known().secrets.clone()
    }

    /// `text` with every occurrence of a secret replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let known = self.known();
        let mut out = Cow::Borrowed(text);
        for form in &known.forms {
            if let Some(replaced) = replace_standalone(&out, form, |_| MASK.to_owned()) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

/// The secrets inside a secret, each a form in which it may be sent or echoed on its own: the
/// credential of an `Authorization`-style value without its scheme (`Bearer t0k` → `t0k`); for
/// `Basic`, the base64 credential without its padding too, the decoded `user:password`, and the
/// password (the user name when the password is empty: some APIs take the key as the user
/// name).
///
/// Only for the HTTP authentication schemes of IANA's registry and the common `Token` and
/// `ApiKey`: a password such as `correct horse` is not split.
pub fn secret_parts(secret: &str) -> Vec<String> {
    const SCHEMES: [&str; 14] = [
        "basic",
        "bearer",
        "digest",
        "dpop",
        "gnap",
        "hoba",
        "mutual",
        "negotiate",
        "oauth",
        "privatetoken",
        "scram-sha-1",
        "scram-sha-256",
        "token",
        "apikey",
    ];
    let mut parts = Vec::new();
    let Some((scheme, credential)) = secret.trim().split_once(' ') else {
        return parts;
    };
    let credential = credential.trim();
    let is_scheme = SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme));
    if !is_scheme || credential.is_empty() || credential.contains(char::is_whitespace) {
        return parts;
    }
    parts.push(credential.to_owned());
    if scheme.eq_ignore_ascii_case("basic") {
        let unpadded = credential.trim_end_matches('=');
        if unpadded != credential && !unpadded.is_empty() {
            parts.push(unpadded.to_owned());
        }
        if let Some(decoded) = super::headers::decode_base64(credential).and_then(|d| String::from_utf8(d).ok())
            && let Some((user, password)) = decoded.split_once(':')
        {
            parts.push(if password.is_empty() { user.to_owned() } else { password.to_owned() });
            parts.push(decoded);
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

impl Redactor {
    /// `text` with every occurrence of a secret replaced by as many `*` as it has bytes, so
    /// that byte offsets into the text stay valid (for reports that point into a file).
    pub fn redact_same_length(&self, text: &str) -> String {
        let known = self.known();
        let mut out = text.to_owned();
        for form in &known.forms {
            if let Some(replaced) = replace_standalone(&out, form, |len| "*".repeat(len)) {
                out = replaced;
            }
        }
        out
    }
}

/// `text` with each standalone occurrence of `needle` replaced by `with(needle.len())`, or
/// `None` when there is none.
fn replace_standalone(text: &str, needle: &str, with: impl Fn(usize) -> String) -> Option<String> {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let (first, last) = (needle.chars().next(), needle.chars().next_back());
    let mut out = String::new();
    let mut copied = 0;
    for (at, _) in text.match_indices(needle) {
        if at < copied {
            continue;
        }
        let end = at + needle.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        let joined = (word(before) && word(first)) || (word(after) && word(last));
        if !joined {
            out.push_str(&text[copied..at]);
            out.push_str(&with(needle.len()));
            copied = end;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

impl fmt::Debug for Redactor {
    /// Never the secrets themselves: only how many forms are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.known().forms.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_secrets_only() {
        assert_eq!(format!("{:?}", Text::secret("hunter2")), "***");
        assert_eq!(format!("{:?}", Text::plain("acme")), "\"acme\"");
        assert_eq!(Text::new("x", false).with_secret(true).shown(), MASK);
        assert_eq!(Text::secret("x").with_secret(false).shown(), MASK);
    }

    #[test]
    fn secrets_inside_secrets() {
        let basic = format!("Basic {}", super::super::headers::base64(b"alice:pa ss"));
        assert_eq!(secret_parts(&basic), ["YWxpY2U6cGEgc3M=", "YWxpY2U6cGEgc3M", "pa ss", "alice:pa ss"]);
        let key_as_user = format!("Basic {}", super::super::headers::base64(b"k3y:"));
        assert_eq!(secret_parts(&key_as_user), ["azN5Og==", "azN5Og", "k3y", "k3y:"]);
        assert_eq!(secret_parts("Bearer t0k"), ["t0k"]);
        assert_eq!(secret_parts("Token abc.def"), ["abc.def"]);
        assert_eq!(secret_parts("Basic not*base64"), ["not*base64"]);
        for none in ["t0k", "two words here", "correct horse", "", "Bearer ", "a=b c", "Bearer a b"] {
            assert!(secret_parts(none).is_empty(), "{none:?}");
        }
        // Registered through the whole value, every part is redacted.
        let r = Redactor::new([basic.as_str()]);
        let echoed = "got YWxpY2U6cGEgc3M= (YWxpY2U6cGEgc3M) for alice:pa ss, password pa ss";
        assert_eq!(r.redact(echoed), "got *** (***) for ***, password ***");
        assert!(r.secrets().contains(&"pa ss".to_owned()), "handed on to delivery's masker");
    }

    #[test]
    fn redacts_every_form_longest_first() {
        let r = Redactor::new(["a b/\"c", "tok", ""]);
        assert_eq!(r.redact("x a b/\"c y"), "x *** y");
        assert_eq!(r.redact("/v/a%20b%2F%22c"), "/v/***");
        assert_eq!(r.redact(r#"{"k":"a b/\"c"}"#), r#"{"k":"***"}"#);
        assert_eq!(r.redact("tokens, tok."), "tokens, ***.");
        let short = Redactor::new(["p"]);
        assert_eq!(short.redact("`password` = p"), "`password` = ***");
        assert_eq!(short.redact_same_length("a p b"), "a * b");
        assert_eq!(Redactor::new(["s3cr"]).redact("postgres://u:s3cr@h/x"), "postgres://u:***@h/x");
        assert!(matches!(r.redact("nothing"), Cow::Borrowed(_)));
        assert!(!format!("{r:?}").contains("tok"));
    }
}
