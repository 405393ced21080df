//! Go to definition: from a template field to its `[destination.fields.NAME]` table.

use std::path::Path;

use lsp_types::{Location, Range};

use super::analysis::ConfigAnalysis;
use super::documents::uri_of;
use super::encoding::{Encoding, LineMap};

/// Where field `name`'s settings table is in the config at `path`, `None` when it has none.
pub fn field_table(path: &Path, config: &ConfigAnalysis, name: &str, encoding: Encoding) -> Option<Location> {
    let mut key = String::from("destination.fields");
    crate::destination::keypath::push_key(&mut key, name);
    let (span, true) = config.places.spans().key(&key)? else { return None };
    let lines = LineMap::new(&config.text);
    let range: Range = lines.range(&config.text, span.start, span.end, encoding);
    Some(Location::new(uri_of(path)?, range))
}
