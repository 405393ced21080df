//! Identifiers that `audience` builds into SQL: validated, then quoted.
//!
//! The model SQL is the user's and runs as written; every *other* name in the SQL we generate
//! (state tables named after a sync, the model's columns we select) goes through this module.
//! Sync names are checked again here, although the config checks them too, because a table
//! name built from a string is exactly where an injection would start.

use std::fmt;

/// Longest sync name (docs/design/interface.md: `[a-z0-9_]{1,40}`). With the longest prefix and a run id
/// of 19 digits, a state table's name stays within PostgreSQL's 63 bytes.
pub const MAX_SYNC_NAME: usize = 40;

/// A sync name checked to be `[a-z0-9_]{1,40}`: safe to embed in a table name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncName(String);

impl SyncName {
    /// Checks `name`; the error says what a sync name may hold (it never quotes the name, which
    /// is harmless but may be long).
    pub fn new(name: &str) -> Result<SyncName, IdentError> {
        let ok = (1..=MAX_SYNC_NAME).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok { Ok(SyncName(name.to_owned())) } else { Err(IdentError::SyncName) }
    }

    /// The name, as validated: `[a-z0-9_]`, 1 to [`MAX_SYNC_NAME`] bytes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SyncName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name cannot be used in SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentError {
    /// A sync name outside `[a-z0-9_]{1,40}`.
    SyncName,
    /// A column or table name that is empty, holds a NUL or another control character, or is
    /// longer than the engine allows.
    Column(String),
}

impl fmt::Display for IdentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentError::SyncName => f.write_str("a sync name is 1 to 40 characters of a-z, 0-9 and _"),
            IdentError::Column(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for IdentError {}

/// Checks a column or table name taken from the config or the model: not empty, no control
/// character (NUL would end the string inside the engine), at most `max_len` bytes.
pub fn check_name(name: &str, max_len: usize) -> Result<(), IdentError> {
    if name.is_empty() {
        return Err(IdentError::Column("a column name is empty".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(IdentError::Column("a column name contains a control character".into()));
    }
    if name.len() > max_len {
        return Err(IdentError::Column(format!("a column name is longer than {max_len} bytes")));
    }
    Ok(())
}

/// `name` as a quoted SQL identifier: in double quotes, a double quote doubled. Standard SQL,
/// understood alike by SQLite and PostgreSQL; quoting also keeps the name's case.
pub fn quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `text` as a SQL string literal: in single quotes, a single quote doubled. Only for names
/// we build (never for record values, which are always bound as parameters).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Resolves the column `wanted` among the model's `columns`: the exact name first; otherwise
/// the one name equal to it ignoring ASCII case (SQLite compares names that way, and
/// PostgreSQL folds unquoted names to lower case, so `Email` in the config should find a model
/// column `email`).
pub fn resolve_column<'a>(wanted: &str, columns: &'a [String]) -> Option<&'a str> {
    if let Some(exact) = columns.iter().find(|c| *c == wanted) {
        return Some(exact);
    }
    let mut folded = columns.iter().filter(|c| c.eq_ignore_ascii_case(wanted));
    match (folded.next(), folded.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_names() {
        for ok in ["a", "high_value", "x9", &"a".repeat(40)] {
            assert!(SyncName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "High", "a-b", "a b", "a\"b", "a;drop", &"a".repeat(41), "é"] {
            assert_eq!(SyncName::new(bad), Err(IdentError::SyncName), "{bad}");
        }
    }

    #[test]
    fn quoting() {
        let table = [
            ("email", "\"email\""),
            ("Email", "\"Email\""),
            ("a\"b", "\"a\"\"b\""),
            ("\"; DROP TABLE users; --", "\"\"\"; DROP TABLE users; --\""),
            ("select", "\"select\""),
        ];
        for (name, want) in table {
            assert_eq!(quote(name), want);
        }
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("email", 63).is_ok());
        assert!(check_name("", 63).is_err());
        assert!(check_name("a\0b", 63).is_err());
        assert!(check_name("a\nb", 63).is_err());
        assert!(check_name(&"x".repeat(64), 63).is_err());
    }

    #[test]
    fn columns_resolve() {
        let cols: Vec<String> = ["id", "Email", "email2", "Name", "name"].iter().map(|s| s.to_string()).collect();
        assert_eq!(resolve_column("id", &cols), Some("id"));
        assert_eq!(resolve_column("ID", &cols), Some("id"));
        assert_eq!(resolve_column("email", &cols), Some("Email"));
        assert_eq!(resolve_column("Name", &cols), Some("Name"));
        assert_eq!(resolve_column("NAME", &cols), None, "ambiguous");
        assert_eq!(resolve_column("missing", &cols), None);
    }
}
