//! The JSON Schema of the config file, generated from the serde model in [`super::config`] and
//! kept at `schema/config.schema.json` (a test fails when the file is stale; editors can use
//! it for completion and validation of TOML through taplo or Even Better TOML).

use serde_json::Value;

use super::config::ConfigFile;

/// The schema as JSON.
pub fn config_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<ConfigFile>();
    let mut value = serde_json::to_value(schema).unwrap_or_default();
    tidy(&mut value);
    add_action_aliases(&mut value);
    value
}

/// Adjusts what schemars derives to what the loader accepts: TOML has no null (an absent key
/// is how a value is left out), and every table refuses unknown keys (a typo must not fall back
/// to a default silently).
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get_mut("anyOf") {
                any.retain(|s| s.get("type").is_none_or(|t| t != "null"));
                if any.len() == 1 {
                    let only = any.remove(0);
                    map.remove("anyOf");
                    if let Value::Object(inner) = only {
                        map.extend(inner);
                    }
                }
            }
            if map.contains_key("properties") {
                map.entry("additionalProperties").or_insert(Value::Bool(false));
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// `insert` and `delete` are other names of `add` and `remove`.
fn add_action_aliases(schema: &mut Value) {
    let Some(Value::Object(actions)) = schema.pointer_mut("/properties/destination/properties/actions/properties")
    else {
        return;
    };
    for (name, alias) in [("add", "insert"), ("remove", "delete")] {
        if let Some(mut spec) = actions.get(name).cloned() {
            if let Some(Value::String(d)) = spec.get_mut("description") {
                *d = format!("Another name of `{name}`.");
            }
            actions.insert(alias.into(), spec);
        }
    }
    // Each of add and remove is required under one of its two names.
    let Some(Value::Object(table)) = schema.pointer_mut("/properties/destination/properties/actions") else { return };
    if let Some(Value::Array(required)) = table.get_mut("required") {
        required.retain(|r| r != "add" && r != "remove");
    }
    let either = |a: &str, b: &str| serde_json::json!({ "anyOf": [{ "required": [a] }, { "required": [b] }] });
    table.insert("allOf".into(), Value::Array(vec![either("add", "insert"), either("remove", "delete")]));
}

/// The schema as the committed file holds it: pretty JSON and a final newline.
pub fn config_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&config_schema()).unwrap_or_default();
    text.push('\n');
    text
}
