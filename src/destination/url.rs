//! The URL rules of docs/design/interface.md, as pure functions: the base URL (http or https, optional
//! path prefix, no user info, no query; its trailing `/` dropped), the action path (starts with
//! `/`, placeholders exactly `{{connection.audienceId}}` and `{{connection.audienceName}}`),
//! and the percent-encoding of the values put in place of the placeholders.

use crate::template::Connection;

/// The two placeholders a path may hold, and what replaces them.
pub const PLACEHOLDERS: [&str; 2] = ["{{connection.audienceId}}", "{{connection.audienceName}}"];

/// Why a base URL was refused. The messages never quote the URL (it may hold a secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseUrlProblem {
    /// The empty string.
    Empty,
    /// Not `http://` or `https://`.
    Scheme,
    /// `https://user:pass@host`: credentials belong in `[destination.auth]`.
    UserInfo,
    /// Nothing where the host goes (`https://`, `https://:80`).
    NoHost,
    /// A host with a character no host name has.
    Host,
    /// A port that is not a number from 1 to 65535.
    Port,
    /// A `?`: query parameters belong in each action's `path`.
    Query,
    /// A `#`: a fragment is never sent.
    Fragment,
    /// A character a URL cannot carry as it is (white space, a control or non-ASCII character,
    /// a `%` not followed by two hex digits).
    Character(char),
}

impl BaseUrlProblem {
    /// One line that says what is wrong, without quoting the URL.
    pub fn message(self) -> String {
        match self {
            BaseUrlProblem::Empty => "the base URL is empty".into(),
            BaseUrlProblem::Scheme => "the base URL must start with http:// or https://".into(),
            BaseUrlProblem::UserInfo => "the base URL must not hold a user name or password".into(),
            BaseUrlProblem::NoHost => "the base URL has no host".into(),
            BaseUrlProblem::Host => "the base URL's host is not a valid host name".into(),
            BaseUrlProblem::Port => "the base URL's port is not a number from 1 to 65535".into(),
            BaseUrlProblem::Query => "the base URL must not have a query (`?...`)".into(),
            BaseUrlProblem::Fragment => "the base URL must not have a fragment (`#...`)".into(),
            BaseUrlProblem::Character(c) => {
                format!("the base URL holds {}, which a URL cannot carry as it is", show_char(c))
            }
        }
    }

    /// How to fix it, where there is more to say than the message.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            BaseUrlProblem::UserInfo => Some("put credentials in [destination.auth]"),
            BaseUrlProblem::Query => Some("put query parameters in each action's `path`"),
            BaseUrlProblem::Scheme => Some("for example https://api.example.com"),
            BaseUrlProblem::Character(_) => Some("percent-encode it"),
            BaseUrlProblem::Host => Some("write an international domain name in its ASCII (punycode) form"),
            _ => None,
        }
    }
}

fn show_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() { format!("U+{:04X}", c as u32) } else { format!("`{c}`") }
}

/// Checks a base URL and returns it with a lower-case scheme and without trailing `/`.
pub fn normalize_base_url(url: &str) -> Result<String, BaseUrlProblem> {
    if url.is_empty() {
        return Err(BaseUrlProblem::Empty);
    }
    let (scheme, rest) = url.split_once("://").ok_or(BaseUrlProblem::Scheme)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(BaseUrlProblem::Scheme);
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(BaseUrlProblem::UserInfo);
    }
    check_authority(authority)?;
    if tail.contains('#') {
        return Err(BaseUrlProblem::Fragment);
    }
    if tail.contains('?') {
        return Err(BaseUrlProblem::Query);
    }
    if let Some(c) = bad_path_char(tail) {
        return Err(BaseUrlProblem::Character(c));
    }
    Ok(format!("{scheme}://{authority}{}", tail.trim_end_matches('/')))
}

fn check_authority(authority: &str) -> Result<(), BaseUrlProblem> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or(BaseUrlProblem::Host)?;
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err(BaseUrlProblem::Host);
        }
        match after {
            "" => (inside, None),
            p => (inside, Some(p.strip_prefix(':').ok_or(BaseUrlProblem::Host)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(BaseUrlProblem::NoHost);
    }
    if let Some(c) = host.chars().find(|c| c.is_whitespace() || c.is_control() || !c.is_ascii()) {
        return Err(if c.is_ascii() { BaseUrlProblem::Character(c) } else { BaseUrlProblem::Host });
    }
    if !authority.starts_with('[')
        && !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(BaseUrlProblem::Host);
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !ok {
            return Err(BaseUrlProblem::Port);
        }
    }
    Ok(())
}

/// The first character of a path (or query) that a URL cannot carry as it is: not
/// unreserved, not a sub-delimiter, not `: @ / ?`, and not a `%` starting two hex digits.
fn bad_path_char(s: &str) -> Option<char> {
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        let ok = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' => true,
            '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '=' | ':' | '@' | '/' | '?' => true,
            '%' => {
                bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            _ => false,
        };
        if !ok {
            return Some(c);
        }
    }
    None
}

/// A problem of an action path, with its byte offset in the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathProblem {
    /// The path does not start with `/`.
    NoSlash,
    /// `#`: a fragment is never sent.
    Fragment,
    /// A character a URL cannot carry as it is.
    Character(char),
    /// `{{...}}` that is not one of [`PLACEHOLDERS`]; holds the placeholder's text.
    Placeholder(String),
    /// `{{` without `}}`.
    Unclosed,
}

impl PathProblem {
    /// One line that says what is wrong.
    pub fn message(&self) -> String {
        match self {
            PathProblem::NoSlash => "the path must start with `/`".into(),
            PathProblem::Fragment => "the path must not have a fragment (`#...`)".into(),
            PathProblem::Character(c) => format!("the path holds {}, which a URL cannot carry as it is", show_char(*c)),
            PathProblem::Placeholder(p) => format!("`{p}` is not a placeholder the path can hold"),
            PathProblem::Unclosed => "a placeholder `{{` is not closed with `}}`".into(),
        }
    }

    /// How to fix it, where there is more to say than the message.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            PathProblem::Placeholder(_) | PathProblem::Unclosed => Some(
                "the placeholders are {{connection.audienceId}} and {{connection.audienceName}}, exactly so, without spaces",
            ),
            PathProblem::Character(_) => Some("percent-encode it"),
            PathProblem::NoSlash => Some("for example /audiences/{{connection.audienceId}}/members"),
            PathProblem::Fragment => None,
        }
    }
}

/// Every problem of an action path.
pub fn check_path(path: &str) -> Vec<PathProblem> {
    let mut problems = Vec::new();
    if !path.starts_with('/') {
        problems.push(PathProblem::NoSlash);
    }
    let mut literal = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find("{{") {
        literal.push_str(&rest[..open]);
        let after = &rest[open..];
        match after.find("}}") {
            Some(close) => {
                let placeholder = &after[..close + 2];
                if !PLACEHOLDERS.contains(&placeholder) {
                    problems.push(PathProblem::Placeholder(placeholder.to_owned()));
                }
                rest = &after[close + 2..];
            }
            None => {
                problems.push(PathProblem::Unclosed);
                rest = "";
            }
        }
    }
    literal.push_str(rest);
    if literal.contains('#') {
        problems.push(PathProblem::Fragment);
    } else if let Some(c) = bad_path_char(&literal) {
        problems.push(PathProblem::Character(c));
    }
    problems
}

/// Percent-encodes every byte that is not an RFC 3986 unreserved character (`A-Z a-z 0-9 - .
/// _ ~`): a space is `%20`, a `/` is `%2F`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// The path with its placeholders replaced by the percent-encoded connection values.
pub fn resolve_path(path: &str, connection: &Connection) -> String {
    path.replace(PLACEHOLDERS[0], &percent_encode(&connection.audience_id))
        .replace(PLACEHOLDERS[1], &percent_encode(&connection.audience_name))
}

/// Whether a path segment is one URL parsers resolve away (WHATWG URL, which reqwest follows):
/// `.` or `..`, each dot also written `%2e` or `%2E`.
fn is_dot_segment(segment: &str) -> bool {
    let dots = segment.to_ascii_lowercase().replace("%2e", ".");
    dots == "." || dots == ".."
}

/// The dot segments of a path, up to its query.
fn dot_segments(path: &str) -> usize {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/').filter(|s| is_dot_segment(s)).count()
}

/// Which connection values, put in place of the placeholders of `path`, make a dot segment
/// (`.` or `..` as a whole segment) that the path does not have with other values: the request
/// would go to another path than the one configured (`audience_id = ".."` turns
/// `/v1/audiences/{{connection.audienceId}}/members` into `/v1/members`). Percent-encoding
/// cannot help: URL parsers read `%2e` as a dot too. Returns `(audience_id, audience_name)`;
/// when only the two together make one, both are `true`.
pub fn dot_segment_values(path: &str, connection: &Connection) -> (bool, bool) {
    let neutral = "x".to_owned();
    let count = |audience_id: &String, audience_name: &String| {
        let c = Connection { audience_id: audience_id.clone(), audience_name: audience_name.clone() };
        dot_segments(&resolve_path(path, &c))
    };
    let baseline = count(&neutral, &neutral);
    let id = count(&connection.audience_id, &neutral) > baseline;
    let name = count(&neutral, &connection.audience_name) > baseline;
    if !id && !name && count(&connection.audience_id, &connection.audience_name) > baseline {
        return (true, true);
    }
    (id, name)
}

/// The request URL: the (normalised) base URL followed by the resolved path.
pub fn request_url(base_url: &str, path: &str, connection: &Connection) -> String {
    format!("{base_url}{}", resolve_path(path, connection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = [
            ("https://api.example.com", "https://api.example.com"),
            ("https://api.example.com/", "https://api.example.com"),
            ("HTTP://api.example.com/v2//", "http://api.example.com/v2"),
            ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
            ("http://[::1]:9000", "http://[::1]:9000"),
            ("https://api_internal.local/a%20b", "https://api_internal.local/a%20b"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_base_url(input).as_deref(), Ok(want), "{input}");
        }
        let bad = [
            ("", BaseUrlProblem::Empty),
            ("api.example.com", BaseUrlProblem::Scheme),
            ("ftp://x.com", BaseUrlProblem::Scheme),
            ("https://u:p@x.com", BaseUrlProblem::UserInfo),
            ("https://", BaseUrlProblem::NoHost),
            ("https://:80", BaseUrlProblem::NoHost),
            ("https://x.com:0", BaseUrlProblem::Port),
            ("https://x.com:99999", BaseUrlProblem::Port),
            ("https://x.com:", BaseUrlProblem::Port),
            ("https://x.com/?a=1", BaseUrlProblem::Query),
            ("https://x.com?a=1", BaseUrlProblem::Query),
            ("https://x.com/#top", BaseUrlProblem::Fragment),
            ("https://x.com/a b", BaseUrlProblem::Character(' ')),
            ("https://x.com/%zz", BaseUrlProblem::Character('%')),
            ("https://exämple.com", BaseUrlProblem::Host),
            ("https://x y.com", BaseUrlProblem::Character(' ')),
            ("https://[zz]", BaseUrlProblem::Host),
        ];
        for (input, want) in bad {
            assert_eq!(normalize_base_url(input), Err(want), "{input}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(check_path("/audiences/{{connection.audienceId}}/members"), []);
        assert_eq!(check_path("/a/{{connection.audienceName}}?mode=add&x=1"), []);
        assert_eq!(check_path("members"), [PathProblem::NoSlash]);
        assert_eq!(
            check_path("/a/{{ connection.audienceId }}/{{connection.id}}"),
            [
                PathProblem::Placeholder("{{ connection.audienceId }}".into()),
                PathProblem::Placeholder("{{connection.id}}".into())
            ]
        );
        assert_eq!(check_path("/a/{{connection.audienceId"), [PathProblem::Unclosed]);
        assert_eq!(check_path("/a b"), [PathProblem::Character(' ')]);
        assert_eq!(check_path("/a/{x}"), [PathProblem::Character('{')]);
        assert_eq!(check_path("/a#b"), [PathProblem::Fragment]);
        assert_eq!(check_path(""), [PathProblem::NoSlash]);
    }

    #[test]
    fn values_that_make_dot_segments() {
        let c = |id: &str, name: &str| Connection { audience_id: id.into(), audience_name: name.into() };
        let path =
            "/v1/audiences/{{connection.audienceId}}/members/{{connection.audienceName}}?n={{connection.audienceName}}";
        let table = [
            (c("42", "High value"), (false, false)),
            (c("..", "x"), (true, false)),
            (c(".", "x"), (true, false)),
            (c("...", "x"), (false, false)),
            (c("a..", ".a"), (false, false)),
            (c("x", ".."), (false, true)),
            (c("../..", "x"), (false, false)), // the slashes are encoded: one segment `..%2F..`
        ];
        for (connection, want) in table {
            assert_eq!(dot_segment_values(path, &connection), want, "{connection:?}");
        }
        // Only in the query: no segment.
        assert_eq!(dot_segment_values("/a?x={{connection.audienceId}}", &c("..", "x")), (false, false));
        // Together: `.` + `.` is `..`; and next to a literal `%2e` of the path.
        let both = "/a/{{connection.audienceId}}{{connection.audienceName}}/b";
        assert_eq!(dot_segment_values(both, &c(".", ".")), (true, true));
        assert_eq!(dot_segment_values("/a/%2E{{connection.audienceId}}/b", &c(".", "x")), (true, false));
        // A dot segment the path has on its own is not the values' doing.
        assert_eq!(dot_segment_values("/a/../{{connection.audienceId}}", &c("7", "x")), (false, false));
    }

    #[test]
    fn encoding_and_resolution() {
        let table = [
            ("abcXYZ019-._~", "abcXYZ019-._~"),
            ("a b", "a%20b"),
            ("a/b", "a%2Fb"),
            ("?&=#%+", "%3F%26%3D%23%25%2B"),
            ("é", "%C3%A9"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(percent_encode(input), want, "{input}");
        }
        let connection = Connection { audience_id: "12/34".into(), audience_name: "High value".into() };
        assert_eq!(
            request_url("https://x.com/v1", "/a/{{connection.audienceId}}/n/{{connection.audienceName}}", &connection),
            "https://x.com/v1/a/12%2F34/n/High%20value"
        );
    }
}
