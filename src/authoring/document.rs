//! The config file as its author wrote it: a `toml_edit` document, so that edits made from the
//! studio (a template, a field's settings) change those values alone and keep every comment,
//! blank line, key order and `${NAME}` of the rest of the file.

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::destination::ActionKind;

/// Where an action's template lives in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateSlot {
    /// `template = '''...'''`, or no template key at all (one is written on the first edit).
    Inline,
    /// `template_file = "PATH"`, relative to the config file.
    File(String),
    /// `use_add = true` (update only): add's template is used.
    UseAdd,
}

/// A template field's settings as written (the defaults when absent), text for text: the
/// checks say what is wrong with an unknown hash name, not this reader.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldSettingsText {
    /// `required = true`: a record without the field is invalid (not sent).
    pub required: bool,
    /// `static = true`: the value comes from the sync's `static` table, not a column.
    #[serde(rename = "static")]
    pub is_static: bool,
    /// The hash name as written (`none`, `sha256`, `sha512`, `md5`, any case); `none` when absent.
    pub hash: String,
    /// The normaliser name as written; `none` when absent.
    pub normalize: String,
}

/// A config document being edited.
#[derive(Clone, Debug)]
pub struct ConfigDocument {
    doc: DocumentMut,
}

impl ConfigDocument {
    /// Parses `text`; the error is TOML's, which `check` reports with its position too.
    pub fn parse(text: &str) -> Result<ConfigDocument, String> {
        text.parse::<DocumentMut>().map(|doc| ConfigDocument { doc }).map_err(|e| e.message().to_owned())
    }

    /// The document as text: unchanged parts byte for byte as read.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// The table of `kind` (`add` or its alias `insert`, `remove` or `delete`).
    fn action(&self, kind: ActionKind) -> Option<&dyn TableLike> {
        let actions = self.doc.get("destination")?.get("actions")?.as_table_like()?;
        [kind.name(), kind.alias()].into_iter().find_map(|k| actions.get(k)).and_then(Item::as_table_like)
    }

    fn action_mut(&mut self, kind: ActionKind) -> Option<&mut dyn TableLike> {
        let actions = self.doc.get_mut("destination")?.get_mut("actions")?.as_table_like_mut()?;
        let key = [kind.name(), kind.alias()].into_iter().find(|k| actions.contains_key(k)).unwrap_or(kind.name());
        if !actions.contains_key(key) {
            actions.insert(key, Item::Table(Table::new()));
        }
        actions.get_mut(key)?.as_table_like_mut()
    }

    /// Where `kind`'s template is.
    pub fn slot(&self, kind: ActionKind) -> TemplateSlot {
        let Some(action) = self.action(kind) else { return TemplateSlot::Inline };
        if action.get("use_add").and_then(Item::as_bool) == Some(true) {
            return TemplateSlot::UseAdd;
        }
        match action.get("template_file").and_then(Item::as_str) {
            Some(path) if action.get("template").is_none() => TemplateSlot::File(path.to_owned()),
            _ => TemplateSlot::Inline,
        }
    }

    /// The inline template of `kind`, when there is one.
    pub fn inline_template(&self, kind: ActionKind) -> Option<&str> {
        self.action(kind)?.get("template")?.as_str()
    }

    /// Writes `text` as `kind`'s inline template (dropping `template_file`, for the copy that
    /// is checked), keeping the comment that followed the old value.
    pub fn set_inline_template(&mut self, kind: ActionKind, text: &str) -> Result<(), String> {
        let mut value = string_value(text)?;
        let Some(action) = self.action_mut(kind) else {
            return Err("`destination.actions` is not a table".to_owned());
        };
        action.remove("template_file");
        match action.get_mut("template") {
            Some(Item::Value(old)) => {
                *value.decor_mut() = old.decor().clone();
                *old = value;
            }
            _ => {
                action.insert("template", Item::Value(value));
            }
        }
        Ok(())
    }

    /// The settings of field `name` as written.
    pub fn field(&self, name: &str) -> FieldSettingsText {
        let table = self
            .doc
            .get("destination")
            .and_then(|d| d.get("fields"))
            .and_then(|f| f.get(name))
            .and_then(Item::as_table_like);
        let get = |key: &str| table.and_then(|t| t.get(key));
        FieldSettingsText {
            required: get("required").and_then(Item::as_bool).unwrap_or(false),
            is_static: get("static").and_then(Item::as_bool).unwrap_or(false),
            hash: get("hash").and_then(Item::as_str).unwrap_or("none").to_owned(),
            normalize: get("normalize").and_then(Item::as_str).unwrap_or("none").to_owned(),
        }
    }

    /// The names of the `[destination.fields.*]` tables, in file order.
    pub fn field_tables(&self) -> Vec<String> {
        let fields = self.doc.get("destination").and_then(|d| d.get("fields")).and_then(Item::as_table_like);
        fields.map(|f| f.iter().map(|(k, _)| k.to_owned()).collect()).unwrap_or_default()
    }

    /// For each sync, in file order: its name and how it supplies field `name` (`map` with the
    /// column, or `static`), `None` when it does not.
    pub fn sync_supply(&self, name: &str) -> Vec<(String, Option<String>)> {
        let Some(syncs) = self.doc.get("syncs").and_then(Item::as_table_like) else { return Vec::new() };
        syncs
            .iter()
            .map(|(sync, table)| {
                let get = |key: &str| table.get(key).and_then(|t| t.get(name));
                let how = match (get("map"), get("static")) {
                    (Some(column), _) => Some(format!("map: column `{}`", column.as_str().unwrap_or("?"))),
                    (None, Some(_)) => Some("static".to_owned()),
                    _ => None,
                };
                (sync.to_owned(), how)
            })
            .collect()
    }

    /// Writes the settings of field `name` that differ from what is written (so that an
    /// untouched field's table stays as it is, defaults left unwritten).
    pub fn set_field(&mut self, name: &str, settings: &FieldSettingsText) -> Result<(), String> {
        let old = self.field(name);
        if old == *settings {
            return Ok(());
        }
        let Some(destination) = self.doc.get_mut("destination").and_then(Item::as_table_like_mut) else {
            return Err("`destination` is not a table".to_owned());
        };
        if destination.get("fields").is_none() {
            let mut fields = Table::new();
            fields.set_implicit(true);
            destination.insert("fields", Item::Table(fields));
        }
        let Some(fields) = destination.get_mut("fields").and_then(Item::as_table_like_mut) else {
            return Err("`destination.fields` is not a table".to_owned());
        };
        if fields.get(name).is_none() {
            fields.insert(name, Item::Table(Table::new()));
        }
        let Some(field) = fields.get_mut(name).and_then(Item::as_table_like_mut) else {
            return Err(format!("`destination.fields.{name}` is not a table"));
        };
        let mut set = |key: &str, value: Value| match field.get_mut(key) {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = value;
                *old.decor_mut() = decor;
            }
            _ => {
                field.insert(key, Item::Value(value));
            }
        };
        if old.required != settings.required {
            set("required", settings.required.into());
        }
        if old.is_static != settings.is_static {
            set("static", settings.is_static.into());
        }
        if old.hash != settings.hash {
            set("hash", settings.hash.as_str().into());
        }
        if old.normalize != settings.normalize {
            set("normalize", settings.normalize.as_str().into());
        }
        Ok(())
    }
}

/// `text` as a TOML string value, written the way an author would: a literal string
/// (`'...'`, or `'''` on its own line for several lines) when the text allows it, else a basic
/// string with escapes.
pub fn string_value(text: &str) -> Result<Value, String> {
    let literal_ok = !text.contains("'''")
        && !text.ends_with('\'')
        && !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    let written = if literal_ok && !text.contains('\n') && !text.contains('\'') {
        format!("'{text}'")
    } else if literal_ok {
        format!("'''\n{text}'''")
    } else {
        let mut out = String::from("\"\"\"\n");
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' | '\t' => out.push(c),
                c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push_str("\"\"\"");
        out
    };
    let mut doc = format!("v = {written}").parse::<DocumentMut>().map_err(|e| e.message().to_owned())?;
    match doc.remove("v") {
        Some(Item::Value(mut v)) => {
            v.decor_mut().set_prefix(" ");
            Ok(v)
        }
        _ => Err("a template could not be written as a TOML string".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# Acme
[destination]
name = "Acme"   # shown in logs
base_url = "${BASE}"

[destination.actions.add]
path = "/m"
template = '''
{"a": [$$.records.email]}
'''  # the body

[destination.actions.update]
use_add = true

[destination.actions.delete]
template_file = "remove.jsonata"

# hashing
[destination.fields.email]
hash = "sha256"  # always
"#;

    #[test]
    fn reads_slots_templates_and_fields() {
        let doc = ConfigDocument::parse(CONFIG).unwrap();
        assert_eq!(doc.slot(ActionKind::Add), TemplateSlot::Inline);
        assert_eq!(doc.slot(ActionKind::Update), TemplateSlot::UseAdd);
        assert_eq!(doc.slot(ActionKind::Remove), TemplateSlot::File("remove.jsonata".into()));
        assert_eq!(doc.inline_template(ActionKind::Add), Some("{\"a\": [$$.records.email]}\n"));
        assert_eq!(doc.field("email").hash, "sha256");
        assert_eq!(
            doc.field("phone"),
            FieldSettingsText { hash: "none".into(), normalize: "none".into(), ..Default::default() }
        );
        assert_eq!(doc.text(), CONFIG);
    }

    #[test]
    fn edits_keep_everything_else() {
        let mut doc = ConfigDocument::parse(CONFIG).unwrap();
        doc.set_inline_template(ActionKind::Add, "{\"b\": 1}").unwrap();
        let mut email = doc.field("email");
        email.required = true;
        doc.set_field("email", &email).unwrap();
        let phone = FieldSettingsText { hash: "sha256".into(), normalize: "phone_e164".into(), ..Default::default() };
        doc.set_field("phone", &phone).unwrap();
        let text = doc.text();
        assert!(text.contains("template = '{\"b\": 1}'  # the body\n"), "{text}");
        assert!(text.contains("hash = \"sha256\"  # always\nrequired = true\n"), "{text}");
        assert!(text.contains("[destination.fields.phone]\nhash = \"sha256\"\nnormalize = \"phone_e164\"\n"), "{text}");
        assert!(text.starts_with("# Acme\n[destination]\nname = \"Acme\"   # shown in logs\nbase_url = \"${BASE}\"\n"));
        let reread = ConfigDocument::parse(&text).unwrap();
        assert!(reread.field("email").required);
        assert_eq!(reread.inline_template(ActionKind::Add), Some("{\"b\": 1}"));
    }

    #[test]
    fn any_text_round_trips_as_a_toml_string() {
        for text in
            ["", "a", "it's", "x\n'''\ny", "ends with '", "tab\there\n", "ctl\u{1}", "back\\slash \"q\"\n", "é ☃\n"]
        {
            let mut doc = ConfigDocument::parse(CONFIG).unwrap();
            doc.set_inline_template(ActionKind::Remove, text).unwrap();
            let reread = ConfigDocument::parse(&doc.text()).unwrap();
            assert_eq!(reread.inline_template(ActionKind::Remove), Some(text), "{}", doc.text());
            assert_eq!(reread.slot(ActionKind::Remove), TemplateSlot::Inline);
        }
    }
}
