//! PostgreSQL values as the field pipeline reads them, following the table "Warehouse values
//! as JSON" of docs/design/sync.md. They arrive in the binary protocol and are decoded here by type:
//! integers, floats, booleans, text, uuid, dates and timestamps (printed as RFC 3339 in UTC),
//! json and jsonb (parsed), bytea; `numeric` is selected as text by the query (PostgreSQL prints
//! its exact digits, which we then never round), and any other type as `to_jsonb(...)` (arrays
//! and composites become JSON, the rest a JSON string of the value's text).

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use tokio_postgres::types::{FromSql, Type};

use crate::fields::OwnedValue;

/// How the PostgreSQL read query hands a column over, decided once from the column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgColumn {
    /// A type [`PgCell`] decodes from the binary protocol.
    Native,
    /// `numeric`: selected as `CAST(c AS text)` and sent as a decimal's digits.
    NumericText,
    /// Anything else: selected as `to_jsonb(c)`.
    Jsonb,
}

impl PgColumn {
    /// How a column of type `ty` is read.
    pub fn for_type(ty: &Type) -> PgColumn {
        if *ty == Type::NUMERIC {
            PgColumn::NumericText
        } else if PgCell::accepts(ty) {
            PgColumn::Native
        } else {
            PgColumn::Jsonb
        }
    }

    /// The select-list expression for column `quoted` (an already quoted identifier).
    pub fn select(self, quoted: &str) -> String {
        match self {
            PgColumn::Native => quoted.to_owned(),
            PgColumn::NumericText => format!("CAST({quoted} AS text)"),
            PgColumn::Jsonb => format!("to_jsonb({quoted})"),
        }
    }
}

/// One PostgreSQL value decoded from the binary protocol, as an owned warehouse value.
#[derive(Debug, PartialEq)]
pub struct PgCell(pub OwnedValue);

impl<'a> FromSql<'a> for PgCell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<PgCell, Box<dyn std::error::Error + Sync + Send>> {
        let value = match *ty {
            Type::BOOL => OwnedValue::Bool(raw.first().copied().unwrap_or(0) != 0),
            Type::INT2 => OwnedValue::Int(i16::from_be_bytes(fixed(raw)?) as i64),
            Type::INT4 => OwnedValue::Int(i32::from_be_bytes(fixed(raw)?) as i64),
            Type::INT8 => OwnedValue::Int(i64::from_be_bytes(fixed(raw)?)),
            Type::OID => OwnedValue::Int(u32::from_be_bytes(fixed(raw)?) as i64),
            Type::FLOAT4 => OwnedValue::Float(f32::from_be_bytes(fixed(raw)?) as f64),
            Type::FLOAT8 => OwnedValue::Float(f64::from_be_bytes(fixed(raw)?)),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                OwnedValue::Text(std::str::from_utf8(raw)?.to_owned())
            }
            Type::UUID => OwnedValue::Text(uuid_text(raw)?),
            Type::DATE => OwnedValue::Timestamp(date_text(i32::from_be_bytes(fixed(raw)?))),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                OwnedValue::Timestamp(timestamp_text(i64::from_be_bytes(fixed(raw)?)))
            }
            Type::JSON => OwnedValue::Json(serde_json::from_slice(raw)?),
            // jsonb's binary form is a version byte (1) and the JSON text.
            Type::JSONB => match raw.split_first() {
                Some((1, text)) => OwnedValue::Json(serde_json::from_slice(text)?),
                _ => return Err("unsupported jsonb version".into()),
            },
            Type::BYTEA => OwnedValue::Bytes(raw.to_vec()),
            _ => return Err(format!("type {ty} is not decoded natively").into()),
        };
        Ok(PgCell(value))
    }

    fn from_sql_null(_: &Type) -> Result<PgCell, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(OwnedValue::Null))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
                | Type::UUID
                | Type::DATE
                | Type::TIMESTAMP
                | Type::TIMESTAMPTZ
                | Type::JSON
                | Type::JSONB
                | Type::BYTEA
        )
    }
}

/// A column read as `CAST(numeric AS text)`: the decimal's digits (or `NaN`, `Infinity`).
pub fn numeric_cell(text: Option<String>) -> OwnedValue {
    text.map_or(OwnedValue::Null, OwnedValue::Numeric)
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], Box<dyn std::error::Error + Sync + Send>> {
    raw.try_into().map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

fn uuid_text(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    let bytes: [u8; 16] = fixed(raw)?;
    let hex = const_hex::encode(bytes);
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// PostgreSQL's epoch for dates and timestamps.
fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("2000-01-01 is a date")
}

/// A date (days since 2000-01-01) as `YYYY-MM-DD`; the infinities as PostgreSQL prints them.
fn date_text(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => match pg_epoch().date().checked_add_signed(TimeDelta::days(days as i64)) {
            Some(date) => date.format("%Y-%m-%d").to_string(),
            None => days.to_string(),
        },
    }
}

/// A timestamp (microseconds since 2000-01-01 UTC) as RFC 3339 in UTC, with the fraction of a
/// second only when there is one (3 or 6 digits), e.g. `2024-05-01T12:30:00Z`. A `timestamp`
/// without time zone is taken to be in UTC.
fn timestamp_text(micros: i64) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ => match pg_epoch().checked_add_signed(TimeDelta::microseconds(micros)) {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string(),
            None => micros.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(ty: Type, raw: &[u8]) -> OwnedValue {
        PgCell::from_sql(&ty, raw).unwrap().0
    }

    #[test]
    fn postgres_values() {
        assert_eq!(cell(Type::INT2, &(-2i16).to_be_bytes()), OwnedValue::Int(-2));
        assert_eq!(cell(Type::INT4, &7i32.to_be_bytes()), OwnedValue::Int(7));
        assert_eq!(cell(Type::INT8, &i64::MIN.to_be_bytes()), OwnedValue::Int(i64::MIN));
        assert_eq!(cell(Type::FLOAT4, &0.5f32.to_be_bytes()), OwnedValue::Float(0.5));
        assert_eq!(cell(Type::FLOAT8, &0.1f64.to_be_bytes()), OwnedValue::Float(0.1));
        assert_eq!(cell(Type::BOOL, &[1]), OwnedValue::Bool(true));
        assert_eq!(cell(Type::BOOL, &[0]), OwnedValue::Bool(false));
        assert_eq!(cell(Type::VARCHAR, b"ada"), OwnedValue::Text("ada".into()));
        let uuid = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
        assert_eq!(cell(Type::UUID, &uuid), OwnedValue::Text("12345678-9abc-def0-1234-56789abcdef0".into()));
        assert_eq!(cell(Type::DATE, &0i32.to_be_bytes()), OwnedValue::Timestamp("2000-01-01".into()));
        assert_eq!(cell(Type::DATE, &(-1i32).to_be_bytes()), OwnedValue::Timestamp("1999-12-31".into()));
        let noon = 12 * 3600 * 1_000_000i64;
        assert_eq!(cell(Type::TIMESTAMPTZ, &noon.to_be_bytes()), OwnedValue::Timestamp("2000-01-01T12:00:00Z".into()));
        assert_eq!(
            cell(Type::TIMESTAMP, &(noon + 250_000).to_be_bytes()),
            OwnedValue::Timestamp("2000-01-01T12:00:00.250Z".into())
        );
        assert_eq!(
            cell(Type::TIMESTAMP, &(noon + 1).to_be_bytes()),
            OwnedValue::Timestamp("2000-01-01T12:00:00.000001Z".into())
        );
        assert_eq!(cell(Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()), OwnedValue::Timestamp("infinity".into()));
        assert_eq!(cell(Type::JSON, br#"{"b":1,"a":[2]}"#), OwnedValue::Json(serde_json::json!({"b": 1, "a": [2]})));
        assert_eq!(cell(Type::JSONB, b"\x01{\"a\": \"x\"}"), OwnedValue::Json(serde_json::json!({"a": "x"})));
        assert_eq!(cell(Type::BYTEA, b"\x00\x01"), OwnedValue::Bytes(vec![0, 1]));
        assert_eq!(PgCell::from_sql_null(&Type::TEXT).unwrap().0, OwnedValue::Null);
        assert!(PgCell::from_sql(&Type::INT4, b"\x00").is_err());
        assert_eq!(numeric_cell(Some("19.990".into())), OwnedValue::Numeric("19.990".into()));
        assert_eq!(numeric_cell(None), OwnedValue::Null);
    }

    #[test]
    fn columns_are_read_by_type() {
        assert_eq!(PgColumn::for_type(&Type::NUMERIC), PgColumn::NumericText);
        assert_eq!(PgColumn::for_type(&Type::TEXT), PgColumn::Native);
        assert_eq!(PgColumn::for_type(&Type::INT4_ARRAY), PgColumn::Jsonb);
        assert_eq!(PgColumn::for_type(&Type::INTERVAL), PgColumn::Jsonb);
        assert_eq!(PgColumn::Jsonb.select("\"tags\""), "to_jsonb(\"tags\")");
        assert_eq!(PgColumn::NumericText.select("\"ltv\""), "CAST(\"ltv\" AS text)");
    }
}
