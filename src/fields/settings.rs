//! A template field's settings: `[destination.fields.X]` of the config (the seed's "Manage
//! template fields": Required, Static, Hash), plus the normalisation preset.

use serde::{Deserialize, Serialize};

use super::hash::HashAlgorithm;
use super::normalize::Normalization;

/// Settings of one template field. A field without a `[destination.fields.X]` table has the
/// defaults: optional, mapped to a column, not hashed, not normalised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldSettings {
    /// The record fails when this field is unmapped, null, empty, or normalised to empty.
    pub required: bool,
    /// The value is a literal from the sync's `static` table, not a warehouse column.
    #[serde(rename = "static")]
    pub is_static: bool,
    /// Applied when the sync's `hash_pii` is true; with `hash_pii = false` the value must
    /// already be a digest of this algorithm.
    pub hash: HashAlgorithm,
    /// Applied before hashing, or before sending for a field without a hash algorithm.
    pub normalize: Normalization,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialises_with_defaults_and_any_case_hash() {
        let s: FieldSettings = serde_json::from_str(r#"{"required": true, "hash": "SHA256"}"#).unwrap();
        assert_eq!(s, FieldSettings { required: true, hash: HashAlgorithm::Sha256, ..FieldSettings::default() });
        let s: FieldSettings = serde_json::from_str(r#"{"static": true, "normalize": "phone_e164"}"#).unwrap();
        assert!(s.is_static);
        assert_eq!(s.normalize, Normalization::PhoneE164);
        assert_eq!(serde_json::from_str::<FieldSettings>("{}").unwrap(), FieldSettings::default());
    }

    #[test]
    fn unknown_names_are_errors_that_say_what_is_accepted() {
        let e = serde_json::from_str::<FieldSettings>(r#"{"requird": true}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field `requird`") && e.contains("`required`"), "{e}");
        let e = serde_json::from_str::<FieldSettings>(r#"{"hash": "sha1"}"#).unwrap_err().to_string();
        assert!(e.contains("`sha1`") && e.contains("none, sha256, sha512, md5"), "{e}");
        let e = serde_json::from_str::<FieldSettings>(r#"{"normalize": "phone"}"#).unwrap_err().to_string();
        assert!(e.contains("`phone`") && e.contains("phone_e164"), "{e}");
    }

    #[test]
    fn serialises_with_config_names() {
        let s = FieldSettings { is_static: true, hash: HashAlgorithm::Md5, ..FieldSettings::default() };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"required":false,"static":true,"hash":"md5","normalize":"none"}"#
        );
    }
}
