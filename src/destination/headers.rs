//! The header rules of docs/design/interface.md, as pure functions: names are RFC 7230 tokens, values
//! carry no CR, LF or other control character, some names are reserved; a request's headers are
//! `Content-Type: application/json`, then the custom headers, then the auth header, a later one
//! replacing an earlier one of the same name (case-insensitively); secrets are shown masked.

use super::model::{Auth, HeaderSetting};
use super::secret::{MASK, Text};

/// Headers the HTTP client or the delivery layer owns: custom headers may not set them.
pub const FORBIDDEN: [&str; 5] = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Idempotency-Key"];

/// Whether `name` is an RFC 7230 token (`1*tchar`).
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Whether custom headers may not set `name`.
pub fn is_forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// What is wrong with a header value, if anything: CR and LF (which would start a new header),
/// and the other control characters HTTP does not allow (horizontal tab is fine).
pub fn value_problem(value: &str) -> Option<&'static str> {
    if value.contains(['\r', '\n']) {
        Some("the header value contains a line break (CR or LF)")
    } else if value.chars().any(|c| (c.is_ascii_control() && c != '\t') || c == '\u{7f}') {
        Some("the header value contains a control character")
    } else {
        None
    }
}

/// One header of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The header's name, as sent.
    pub name: String,
    /// The header's value; a secret one is masked wherever it is shown.
    pub value: Text,
    /// What a masked value keeps in front of [`MASK`]: `"Bearer "` and `"Basic "` for the auth
    /// header, nothing otherwise.
    pub shown_prefix: &'static str,
}

impl Header {
    /// The value as a preview shows it: masked when secret, unless `show_secrets`.
    pub fn shown(&self, show_secrets: bool) -> String {
        if self.value.is_secret() && !show_secrets {
            format!("{}{MASK}", self.shown_prefix)
        } else {
            self.value.as_str().to_owned()
        }
    }
}

/// The headers of every request of a destination, in order.
pub fn build_headers(custom: &[HeaderSetting], auth: &Auth) -> Vec<Header> {
    let mut headers =
        vec![Header { name: "Content-Type".into(), value: Text::plain("application/json"), shown_prefix: "" }];
    for h in custom {
        set(&mut headers, Header { name: h.name.clone(), value: h.value.clone(), shown_prefix: "" });
    }
    if let Some(h) = auth_header(auth) {
        set(&mut headers, h);
    }
    headers
}

/// Adds `header`, replacing (in its place) an earlier one of the same name.
fn set(headers: &mut Vec<Header>, header: Header) {
    match headers.iter_mut().find(|h| h.name.eq_ignore_ascii_case(&header.name)) {
        Some(slot) => *slot = header,
        None => headers.push(header),
    }
}

/// The auth header: always a secret.
pub fn auth_header(auth: &Auth) -> Option<Header> {
    match auth {
        Auth::None => None,
        Auth::Bearer { token } => Some(Header {
            name: "Authorization".into(),
            value: Text::secret(format!("Bearer {}", token.as_str())),
            shown_prefix: "Bearer ",
        }),
        Auth::Basic { username, password } => Some(Header {
            name: "Authorization".into(),
            value: Text::secret(format!(
                "Basic {}",
                base64(format!("{}:{}", username.as_str(), password.as_str()).as_bytes())
            )),
            shown_prefix: "Basic ",
        }),
        Auth::ApiKey { header, key } => {
            Some(Header { name: header.clone(), value: Text::secret(key.as_str()), shown_prefix: "" })
        }
        // The token exists only once fetched during a run: a preview (which fetches nothing)
        // shows `Bearer ***` even with secrets shown.
        Auth::OAuth2(_) => Some(Header {
            name: "Authorization".into(),
            value: Text::secret(format!("Bearer {MASK}")),
            shown_prefix: "Bearer ",
        }),
    }
}

/// Decodes standard base64 (RFC 4648 §4), padding optional; `None` for anything else. For the
/// secrets inside a Basic credential (see [`super::secret::Redactor`]).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 with padding (RFC 4648 §4), for Basic credentials: a dozen lines rather
/// than a dependency.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_values_and_forbidden_names() {
        for ok in ["X-API-Version", "x_a", "A!#$%&'*+-.^_`|~9"] {
            assert!(is_token(ok), "{ok}");
        }
        for bad in ["", "X API", "X:A", "Ä", "a\tb", "(x)", "a/b"] {
            assert!(!is_token(bad), "{bad}");
        }
        assert!(is_forbidden("host") && is_forbidden("IDEMPOTENCY-KEY") && !is_forbidden("Hostname"));
        assert_eq!(value_problem("a\tb é"), None);
        assert!(value_problem("a\r\nX-B: 1").is_some_and(|m| m.contains("line break")));
        assert!(value_problem("a\0b").is_some_and(|m| m.contains("control")));
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
        assert_eq!(base64(b"Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        for input in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "Aladdin:open sesame", "\u{e9}:\u{1f511}"] {
            let encoded = base64(input.as_bytes());
            assert_eq!(decode_base64(&encoded).as_deref(), Some(input.as_bytes()), "{encoded}");
            assert_eq!(decode_base64(encoded.trim_end_matches('=')).as_deref(), Some(input.as_bytes()), "{encoded}");
        }
        for bad in ["a", "ab!c", "ab c", "abcde"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    fn custom(pairs: &[(&str, &str, bool)]) -> Vec<HeaderSetting> {
        pairs.iter().map(|(n, v, s)| HeaderSetting { name: n.to_string(), value: Text::new(*v, *s) }).collect()
    }

    fn shown(headers: &[Header], show: bool) -> Vec<(String, String)> {
        headers.iter().map(|h| (h.name.clone(), h.shown(show))).collect()
    }

    #[test]
    fn order_replacement_and_masking() {
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        // Custom headers, auth, and the headers as a preview shows them.
        type Case = (Vec<HeaderSetting>, Auth, Vec<(String, String)>);
        let table: Vec<Case> = vec![
            (custom(&[]), Auth::None, pairs(&[("Content-Type", "application/json")])),
            (
                custom(&[("X-API-Version", "2", false), ("content-type", "application/vnd+json", false)]),
                Auth::Bearer { token: Text::secret("t") },
                pairs(&[
                    ("content-type", "application/vnd+json"),
                    ("X-API-Version", "2"),
                    ("Authorization", "Bearer ***"),
                ]),
            ),
            (
                custom(&[("Authorization", "mine", false), ("X-Key", "k", true)]),
                Auth::Basic { username: Text::plain("u"), password: Text::secret("p") },
                pairs(&[("Content-Type", "application/json"), ("Authorization", "Basic ***"), ("X-Key", "***")]),
            ),
            (
                custom(&[("x-api-key", "old", false)]),
                Auth::ApiKey { header: "X-API-Key".into(), key: Text::secret("k") },
                pairs(&[("Content-Type", "application/json"), ("X-API-Key", "***")]),
            ),
        ];
        for (custom, auth, want) in table {
            assert_eq!(shown(&build_headers(&custom, &auth), false), want);
        }
        let revealed = build_headers(&[], &Auth::Basic { username: Text::plain("u"), password: Text::secret("p") });
        assert_eq!(revealed[1].shown(true), format!("Basic {}", base64(b"u:p")));
        let bearer = build_headers(&[], &Auth::Bearer { token: Text::secret("abc") });
        assert_eq!(bearer[1].shown(true), "Bearer abc");
    }
}
