//! Where each key of a config file is, so that a problem found by key path can be shown in the
//! file (`check`'s human report points at the line).

use std::collections::HashMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::keypath;

/// The spans of every key and value of a config file, by key path.
#[derive(Debug, Default)]
pub struct KeySpans {
    spans: HashMap<String, KeyAndValue>,
}

/// The spans of a key and of its value.
type KeyAndValue = (Range<usize>, Range<usize>);

impl KeySpans {
    /// Indexes `text`; an unparsable text gives an empty index.
    pub fn new(text: &str) -> KeySpans {
        let mut index = KeySpans::default();
        if let Ok(root) = DeTable::parse(text) {
            index.table(root.get_ref(), "");
        }
        index
    }

    fn table(&mut self, table: &DeTable<'_>, base: &str) {
        for (key, value) in table.iter() {
            let path = keypath::join(base, key.get_ref());
            self.spans.insert(path.clone(), (key.span(), value.span()));
            self.value(value.get_ref(), &path);
        }
    }

    fn value(&mut self, value: &DeValue<'_>, path: &str) {
        match value {
            DeValue::Table(t) => self.table(t, path),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.spans.insert(item_path.clone(), (item.span(), item.span()));
                    self.value(item.get_ref(), &item_path);
                }
            }
            _ => {}
        }
    }

    /// The span of the key at `path`, or of its nearest parent that is in the file (a missing
    /// key points at its table), with whether it is the key itself.
    pub fn key(&self, path: &str) -> Option<(Range<usize>, bool)> {
        self.find(path).map(|((key, _), exact)| (key, exact))
    }

    /// The span of the value at `path` (or the nearest parent's key).
    pub fn value_span(&self, path: &str) -> Option<(Range<usize>, bool)> {
        self.find(path).map(|((key, value), exact)| if exact { (value, true) } else { (key, false) })
    }

    fn find(&self, path: &str) -> Option<(KeyAndValue, bool)> {
        let mut p = path;
        let mut exact = true;
        loop {
            if let Some(spans) = self.spans.get(p) {
                return Some((spans.clone(), exact));
            }
            exact = false;
            p = parent(p)?;
        }
    }
}

/// The parent of a key path (`a.b."c.d"` → `a.b`), or `None` at the top.
fn parent(path: &str) -> Option<&str> {
    let bytes = path.as_bytes();
    let (mut quoted, mut cut) = (false, None);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'.' | b'[' if !quoted => cut = Some(i),
            _ => {}
        }
        i += 1;
    }
    cut.map(|c| &path[..c])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_values_and_parents() {
        let text = "[destination]\nname = \"x\"\nheaders = { \"X A\" = \"1\" }\n[syncs.a]\nstatic = { t = [1, 2] }\n";
        let spans = KeySpans::new(text);
        let (r, exact) = spans.key("destination.name").unwrap();
        assert_eq!((&text[r], exact), ("name", true));
        let (r, _) = spans.value_span("destination.name").unwrap();
        assert_eq!(&text[r], "\"x\"");
        let (r, exact) = spans.key("destination.base_url").unwrap();
        assert_eq!((&text[r], exact), ("destination", false));
        let (r, _) = spans.key("destination.headers.\"X A\"").unwrap();
        assert_eq!(&text[r], "\"X A\"");
        let (r, _) = spans.value_span("syncs.a.static.t[1]").unwrap();
        assert_eq!(&text[r], "2");
        assert_eq!(parent("a.\"b.c\".d"), Some("a.\"b.c\""));
        assert_eq!(parent("a.\"b.c\""), Some("a"));
        assert_eq!(parent("a"), None);
        assert!(KeySpans::new("[oops").key("a").is_none());
    }
}
