//! `${NAME}` expansion in the string values of a parsed config (docs/design/interface.md): after parsing,
//! inside strings only, never inside templates; `$${` is a literal `${`. A value that used a
//! variable is a secret, and so is each variable's value.

use std::collections::BTreeSet;

use super::keypath;

/// What expanding a config found.
#[derive(Default, Debug)]
pub struct Expansion {
    /// Key paths of values that used at least one variable (and are therefore secrets).
    pub from_env: BTreeSet<String>,
    /// Key paths of values that used a variable that is not set. The variable was replaced by
    /// nothing; checks of what the value says are skipped for these keys, since the value is
    /// not known.
    pub unresolved: BTreeSet<String>,
    /// The values of the variables used, to mask wherever they might show.
    pub secrets: Vec<String>,
    /// References that could not be expanded, in the order found.
    pub problems: Vec<EnvProblem>,
}

/// A reference that could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvProblem {
    /// `${NAME}` with `NAME` unset.
    Unset {
        /// The key path of the value holding the reference.
        key: String,
        /// The variable's name.
        name: String,
    },
    /// `${` not followed by a name and `}`.
    BadReference {
        /// The key path of the value holding the reference.
        key: String,
    },
}

/// Expands every string of `root` with `lookup` (the process environment in production),
/// except the request-body templates `destination.actions.*.template`.
pub fn expand(root: &mut toml::Table, lookup: &dyn Fn(&str) -> Option<String>) -> Expansion {
    let mut out = Expansion::default();
    let mut path = Vec::new();
    for (key, value) in root.iter_mut() {
        path.push(keypath::Segment::Key(key.clone()));
        walk(value, &mut path, lookup, &mut out);
        path.pop();
    }
    out
}

fn walk(
    value: &mut toml::Value,
    path: &mut Vec<keypath::Segment>,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Expansion,
) {
    match value {
        toml::Value::String(s) => {
            if is_template(path) || !s.contains('$') {
                return;
            }
            let key = keypath::format(path);
            match expand_str(s, lookup) {
                Ok(expanded) => {
                    if expanded.used_env {
                        out.from_env.insert(key.clone());
                        out.secrets.extend(expanded.values);
                    }
                    if !expanded.unset.is_empty() {
                        out.unresolved.insert(key.clone());
                        for name in expanded.unset {
                            out.problems.push(EnvProblem::Unset { key: key.clone(), name });
                        }
                    }
                    *s = expanded.text;
                }
                Err(BadReference) => {
                    out.unresolved.insert(key.clone());
                    out.problems.push(EnvProblem::BadReference { key });
                }
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(keypath::Segment::Index(i));
                walk(item, path, lookup, out);
                path.pop();
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                path.push(keypath::Segment::Key(key.clone()));
                walk(item, path, lookup, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// `destination.actions.<any>.template`: template text is JSONata, where `$` means something.
fn is_template(path: &[keypath::Segment]) -> bool {
    use keypath::Segment::Key;
    matches!(path, [Key(a), Key(b), Key(_), Key(c)] if a == "destination" && b == "actions" && c == "template")
}

/// One string, expanded.
#[derive(Debug, PartialEq, Eq)]
pub struct Expanded {
    /// The string with every `${NAME}` replaced by its value and `$${` by `${`.
    pub text: String,
    /// Whether a variable was referenced (set or not).
    pub used_env: bool,
    /// The values of the set variables referenced.
    pub values: Vec<String>,
    /// The names of unset variables referenced (each replaced by nothing).
    pub unset: Vec<String>,
}

/// A `${` that does not start a well-formed `${NAME}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadReference;

/// Expands the references of `s`; `Err` for a `${` that is not a well-formed reference.
/// Names are `[A-Za-z_][A-Za-z0-9_]*`; a `$` not followed by `{` is kept as it is.
pub fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, BadReference> {
    let mut out =
        Expanded { text: String::with_capacity(s.len()), used_env: false, values: Vec::new(), unset: Vec::new() };
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.text.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.text.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(BadReference)?;
            let name = &tail[..end];
            if !is_name(name) {
                return Err(BadReference);
            }
            out.used_env = true;
            match lookup(name) {
                Some(value) => {
                    out.text.push_str(&value);
                    out.values.push(value);
                }
                None => out.unset.push(name.to_owned()),
            }
            rest = &tail[end + 1..];
        } else {
            out.text.push('$');
            rest = &after[1..];
        }
    }
    out.text.push_str(rest);
    Ok(out)
}

fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("t0k".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_escapes_and_reports() {
        let e = expand_str("Bearer ${TOKEN}", &env).unwrap();
        assert_eq!((e.text.as_str(), e.used_env, e.values), ("Bearer t0k", true, vec!["t0k".to_string()]));
        let e = expand_str("a $${TOKEN} $5 $", &env).unwrap();
        assert_eq!((e.text.as_str(), e.used_env), ("a ${TOKEN} $5 $", false));
        let e = expand_str("${NOPE}/${EMPTY}x", &env).unwrap();
        assert_eq!((e.text.as_str(), e.unset), ("/x", vec!["NOPE".to_string()]));
        for bad in ["${", "${A", "${}", "${1A}", "${A B}", "${A-B}"] {
            assert_eq!(expand_str(bad, &env), Err(BadReference), "{bad}");
        }
    }

    #[test]
    fn walks_everything_but_templates() {
        let mut t: toml::Table = toml::from_str(
            r#"
            [destination]
            name = "${TOKEN}"
            headers = { X = { value = "${NOPE}" } }
            [destination.actions.insert]
            template = '{"a": "${TOKEN}"}'
            path = "/${TOKEN}"
            [syncs.a]
            static = { tags = ["${TOKEN}", "$${x}"] }
            "#,
        )
        .unwrap();
        let e = expand(&mut t, &env);
        let keys: Vec<_> = e.from_env.iter().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "destination.actions.insert.path",
                "destination.headers.X.value",
                "destination.name",
                "syncs.a.static.tags[0]"
            ]
        );
        assert_eq!(e.problems, [EnvProblem::Unset { key: "destination.headers.X.value".into(), name: "NOPE".into() }]);
        assert_eq!(t["destination"]["actions"]["insert"]["template"].as_str(), Some(r#"{"a": "${TOKEN}"}"#));
        assert_eq!(t["syncs"]["a"]["static"]["tags"][1].as_str(), Some("${x}"));
    }
}
