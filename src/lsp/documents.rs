//! The buffers the editor has open, kept in step with its edits (whole or incremental), and
//! the mapping between `file:` URIs and paths. An open buffer wins over the file on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_types::{TextDocumentContentChangeEvent, Uri};

use super::encoding::{Encoding, LineMap};

/// One open buffer.
#[derive(Clone, Debug)]
pub struct Document {
    /// Its text as the editor has it.
    pub text: String,
    /// The editor's version of it.
    pub version: i32,
    /// Its line starts.
    pub lines: LineMap,
}

/// Every open buffer by URI.
#[derive(Debug, Default)]
pub struct Documents {
    open: HashMap<Uri, Document>,
}

impl Documents {
    /// A buffer opened.
    pub fn open(&mut self, uri: Uri, version: i32, text: String) {
        let lines = LineMap::new(&text);
        self.open.insert(uri, Document { text, version, lines });
    }

    /// A buffer closed: the file on disk is what counts again.
    pub fn close(&mut self, uri: &Uri) {
        self.open.remove(uri);
    }

    /// Applies the editor's changes in order; an error names the change that did not apply
    /// (to a buffer that is not open), and the buffer is left as it was.
    pub fn change(
        &mut self,
        uri: &Uri,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
        encoding: Encoding,
    ) -> Result<(), String> {
        let doc = self.open.get_mut(uri).ok_or_else(|| format!("{} is not open", uri.as_str()))?;
        for change in changes {
            match change.range {
                None => doc.text = change.text,
                Some(range) => {
                    let start = doc.lines.offset(&doc.text, range.start, encoding);
                    let end = doc.lines.offset(&doc.text, range.end, encoding).max(start);
                    doc.text.replace_range(start..end, &change.text);
                }
            }
            doc.lines = LineMap::new(&doc.text);
        }
        doc.version = version;
        Ok(())
    }

    /// The open buffer at `uri`.
    pub fn get(&self, uri: &Uri) -> Option<&Document> {
        self.open.get(uri)
    }

    /// The text of `path`: the open buffer's, else the file's.
    pub fn text_of(&self, path: &Path) -> Option<String> {
        match self.open.get(&uri_of(path)?) {
            Some(doc) => Some(doc.text.clone()),
            None => std::fs::read_to_string(path).ok(),
        }
    }

    /// Whether `path` is open in the editor.
    pub fn is_open(&self, path: &Path) -> bool {
        uri_of(path).is_some_and(|uri| self.open.contains_key(&uri))
    }

    /// Every open URI.
    pub fn uris(&self) -> impl Iterator<Item = &Uri> {
        self.open.keys()
    }
}

/// The path of a `file:` URI.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file:///p` (empty authority) or `file://localhost/p`.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    rest.starts_with('/').then(|| PathBuf::from(crate::percent::percent_decode(rest)))
}

/// The `file:` URI of an absolute path, with every byte outside the unreserved set and `/`
/// percent-encoded.
pub fn uri_of(path: &Path) -> Option<Uri> {
    let text = path.to_str()?;
    let mut out = String::from("file://");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsp_types::{Position, Range};

    #[test]
    fn uris_and_paths_round_trip() {
        let path = Path::new("/tmp/a b/é.toml");
        let uri = uri_of(path).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/a%20b/%C3%A9.toml");
        assert_eq!(path_of(&uri).unwrap(), path);
        assert_eq!(path_of(&"untitled:1".parse().unwrap()), None);
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let uri: Uri = "file:///x.jsonata".parse().unwrap();
        let mut docs = Documents::default();
        docs.open(uri.clone(), 1, "{\"é\": a}\n".into());
        let edit = |l, c, l2, c2, text: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(l, c), Position::new(l2, c2))),
            range_length: None,
            text: text.into(),
        };
        // UTF-16: `a` is at character 6.
        docs.change(&uri, 2, vec![edit(0, 6, 0, 7, "bb"), edit(1, 0, 1, 0, "c")], Encoding::Utf16).unwrap();
        assert_eq!(docs.get(&uri).unwrap().text, "{\"é\": bb}\nc");
        assert!(docs.change(&"file:///y".parse().unwrap(), 1, vec![], Encoding::Utf8).is_err());
    }
}
