//! Config key paths as diagnostics print them: `destination.actions.add.template`,
//! `destination.headers."X Bad"`, `syncs.a.static.tags[0]`.
//!
//! One formatter for every producer (the environment expansion, unknown keys from
//! `serde_ignored`, wrongly typed values from `serde_path_to_error`, the validator), so that one
//! key is always spelled one way.

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A table key (`destination`, `actions`, ...).
    Key(String),
    /// An array index, from 0.
    Index(usize),
}

/// Appends `key` to `path`, quoting it when it is not a TOML bare key.
pub fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        path.push_str(key);
    } else {
        path.push('"');
        for c in key.chars() {
            match c {
                '"' => path.push_str("\\\""),
                '\\' => path.push_str("\\\\"),
                c if c.is_control() => path.push_str(&format!("\\u{:04X}", c as u32)),
                c => path.push(c),
            }
        }
        path.push('"');
    }
}

/// `base` followed by `key`.
pub fn join(base: &str, key: &str) -> String {
    let mut path = base.to_owned();
    push_key(&mut path, key);
    path
}

/// The printed form of a path.
pub fn format(segments: &[Segment]) -> String {
    let mut path = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => push_key(&mut path, key),
            Segment::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

/// The segments of a path reported by `serde_ignored`.
pub fn from_ignored(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    let mut out = match path {
        serde_ignored::Path::Root => return Vec::new(),
        serde_ignored::Path::Seq { parent, .. }
        | serde_ignored::Path::Map { parent, .. }
        | serde_ignored::Path::Some { parent }
        | serde_ignored::Path::NewtypeStruct { parent }
        | serde_ignored::Path::NewtypeVariant { parent } => from_ignored(parent),
    };
    match path {
        serde_ignored::Path::Seq { index, .. } => out.push(Segment::Index(*index)),
        serde_ignored::Path::Map { key, .. } => out.push(Segment::Key(key.clone())),
        _ => {}
    }
    out
}

/// The segments of a path reported by `serde_path_to_error`.
pub fn from_tracked(path: &serde_path_to_error::Path) -> Vec<Segment> {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_is_not_bare() {
        let segments =
            [Segment::Key("destination".into()), Segment::Key("headers".into()), Segment::Key("X-API-Version".into())];
        assert_eq!(format(&segments), "destination.headers.X-API-Version");
        assert_eq!(join("a", "b c"), "a.\"b c\"");
        assert_eq!(join("a", "q\"\\"), "a.\"q\\\"\\\\\"");
        assert_eq!(join("", ""), "\"\"");
        assert_eq!(format(&[Segment::Key("tags".into()), Segment::Index(2)]), "tags[2]");
    }
}
