//! Where the cursor is in a config, as the schema sees it: the table it is in, and whether it
//! is at a key, a value, a key of an inline table, or a table header. The keys and values
//! offered come from the config's JSON Schema ([`crate::destination::schema`]), the one the
//! loader's types derive, so completion never offers a key the loader refuses.

use serde_json::Value;

/// The cursor's place in a config line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// In a `[table]` header, after `prefix` (the path typed so far, dotted).
    Header(Vec<String>),
    /// At a key of table `table`.
    Key(Vec<String>),
    /// At the value of key path `key`.
    Value(Vec<String>),
}

/// The place of byte `offset` of config `text`.
pub fn place(text: &str, offset: usize) -> Place {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let trimmed = before.trim_start();
    if trimmed.starts_with('[') {
        let inner = trimmed.trim_start_matches('[');
        let mut path = split(inner);
        path.pop();
        return Place::Header(path);
    }
    let mut table = Vec::new();
    for line in text[..line_start].lines().rev() {
        let line = line.trim();
        if line.starts_with('[') {
            let inner = line.trim_start_matches('[');
            let inner = inner.split(']').next().unwrap_or_default();
            table = split(inner);
            break;
        }
    }
    // Inside an inline table: the key before its `{` names it.
    if let Some(open) = before.rfind('{').filter(|&i| !before[i..].contains('}')) {
        let outer = before[..open].trim_end().trim_end_matches('=').trim();
        table.extend(split(outer));
        let entry = before[open + 1..].rsplit(',').next().unwrap_or_default();
        return match entry.split_once('=') {
            Some((key, _)) => Place::Value([table, split(key.trim())].concat()),
            None => Place::Key(table),
        };
    }
    match before.split_once('=') {
        Some((key, _)) => Place::Value([table, split(key.trim())].concat()),
        None => {
            let key = split(trimmed);
            // A dotted key being typed: its table is the part before the last dot.
            let n = key.len().saturating_sub(1);
            Place::Key([table, key[..n].to_vec()].concat())
        }
    }
}

/// The segments of a dotted key path, quotes and array indices dropped.
pub fn split(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for c in path.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => out.push(std::mem::take(&mut current)),
            (None, c) if c.is_whitespace() => {}
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out.iter().map(|s| s.split('[').next().unwrap_or_default().to_owned()).collect()
}

/// The schema of the value at `path` (a `$ref` or a one-of-kinds followed to the table).
pub fn node<'a>(schema: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut at = resolve(schema, schema);
    for key in path {
        let props = at.get("properties").and_then(|p| p.get(key));
        let next = props.or_else(|| at.get("additionalProperties").filter(|a| a.is_object()))?;
        at = resolve(schema, next);
    }
    Some(at)
}

fn resolve<'a>(root: &'a Value, value: &'a Value) -> &'a Value {
    let value = match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => root.get("$defs").and_then(|d| d.get(name)).unwrap_or(value),
        None => value,
    };
    let variants = value.get("anyOf").or_else(|| value.get("oneOf")).and_then(Value::as_array);
    match variants {
        Some(variants) => {
            variants.iter().map(|v| resolve(root, v)).find(|v| v.get("properties").is_some()).unwrap_or(value)
        }
        None => value,
    }
}

/// The keys of the table at `path`, each with its description.
pub fn keys<'a>(schema: &'a Value, path: &[String]) -> Vec<(&'a str, &'a str)> {
    let Some(props) = node(schema, path).and_then(|n| n.get("properties")).and_then(Value::as_object) else {
        return Vec::new();
    };
    props.iter().map(|(k, v)| (k.as_str(), v.get("description").and_then(Value::as_str).unwrap_or(""))).collect()
}

/// The values the schema allows at `path`, written as TOML: its enum's strings, or `true` and
/// `false`.
pub fn values(schema: &Value, path: &[String]) -> Vec<String> {
    let Some(node) = node(schema, path) else { return Vec::new() };
    if let Some(options) = node.get("enum").and_then(Value::as_array) {
        return options.iter().filter_map(Value::as_str).map(|s| format!("\"{s}\"")).collect();
    }
    if node.get("type").and_then(Value::as_str) == Some("boolean") {
        return vec!["true".to_owned(), "false".to_owned()];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn places_in_a_config() {
        let text =
            "[destination]\nname = \"a\"\n[syncs.s]\nmap = { email = \"e\", ph\nhash_pii = tr\n[destination.fields.";
        let at = |marker: &str| text.find(marker).unwrap() + marker.len();
        assert_eq!(place(text, at("\nna")), Place::Key(s(&["destination"])));
        assert_eq!(place(text, at("name = \"")), Place::Value(s(&["destination", "name"])));
        assert_eq!(place(text, at(", ph")), Place::Key(s(&["syncs", "s", "map"])));
        assert_eq!(place(text, at("= tr")), Place::Value(s(&["syncs", "s", "hash_pii"])));
        assert_eq!(place(text, text.len()), Place::Header(s(&["destination", "fields"])));
    }

    #[test]
    fn keys_and_values_from_the_schema() {
        let schema = crate::destination::schema::config_schema();
        let keys: Vec<&str> = keys(&schema, &s(&["syncs", "any"])).into_iter().map(|(k, _)| k).collect();
        assert!(keys.contains(&"audience_id") && keys.contains(&"map"), "{keys:?}");
        assert_eq!(values(&schema, &s(&["destination", "auth", "type"]))[1], "\"basic\"");
        assert_eq!(values(&schema, &s(&["destination", "fields", "email", "required"])), ["true", "false"]);
    }
}
