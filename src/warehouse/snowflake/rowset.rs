//! Result cells to [`OwnedValue`], by Snowflake type, from either result format: the Arrow
//! stream of a query ([`arrow_rows`]) or the JSON `rowset` of strings (DML counts, and what a
//! server sends when it answers in JSON: [`json_rows`]).
//!
//! The mapping follows docs/design/sync.md's "Warehouse values as JSON", Snowflake's types taking the place
//! of PostgreSQL's:
//!
//! | Snowflake | value | why |
//! |---|---|---|
//! | NUMBER(p, 0) | `Int` when it fits 64 bits, else `Numeric` (its digits) | integers stay exact |
//! | NUMBER(p, s>0) | `Numeric`, printed with its `s` decimals (`19.90`) | as PostgreSQL's numeric: exact text |
//! | FLOAT (REAL) | `Float` | |
//! | VARCHAR | `Text` | |
//! | BOOLEAN | `Bool` | |
//! | DATE | `Timestamp`, `YYYY-MM-DD` | |
//! | TIME | `Text`, `HH:MM:SS[.fraction]` | no date: not a timestamp |
//! | TIMESTAMP_NTZ | `Timestamp`, RFC 3339, taken to be UTC | as PostgreSQL's timestamp |
//! | TIMESTAMP_LTZ, TIMESTAMP_TZ | `Timestamp`, RFC 3339 in UTC (the offset is dropped) | one form for one instant, as timestamptz |
//! | VARIANT, OBJECT, ARRAY | `Json` (parsed) | as jsonb: `addr.city` works |
//! | BINARY | `Bytes` (the record fails: no JSON form) | as bytea |
//!
//! Timestamps print their fraction only when there is one, with 3, 6 or 9 digits, like the
//! PostgreSQL connector.

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;

use super::arrow::{Column, Stream};
use crate::fields::OwnedValue;

/// One column of a result, as the response's `rowtype` describes it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ColumnType {
    /// The column's name, as the result names it.
    pub name: String,
    /// Snowflake's type name in lower case: `fixed`, `real`, `text`, `boolean`, `date`,
    /// `time`, `timestamp_ntz`, `timestamp_ltz`, `timestamp_tz`, `variant`, `object`, `array`,
    /// `binary`...
    #[serde(rename = "type")]
    pub type_name: String,
    /// Digits after the point (NUMBER) or of the fraction of a second (TIME, TIMESTAMP_*).
    #[serde(default)]
    pub scale: Option<i64>,
    /// Total digits of a NUMBER.
    #[serde(default)]
    pub precision: Option<i64>,
    /// Whether the column may hold NULL.
    #[serde(default)]
    pub nullable: bool,
}

impl ColumnType {
    fn scale(&self) -> u32 {
        self.scale.and_then(|s| u32::try_from(s).ok()).unwrap_or(0).min(38)
    }
}

/// The rows of an Arrow result, typed by `columns`. Errors name the column.
pub fn arrow_rows(stream: &Stream, columns: &[ColumnType]) -> Result<Vec<Vec<OwnedValue>>, String> {
    if stream.fields.len() != columns.len() {
        return Err(format!("{} Arrow columns for {} described columns", stream.fields.len(), columns.len()));
    }
    let mut rows = Vec::with_capacity(stream.batches.iter().map(|b| b.rows).sum());
    for batch in &stream.batches {
        let decoded = batch
            .columns
            .iter()
            .zip(columns)
            .map(|(column, ty)| arrow_column(column, ty).map_err(|e| format!("column {}: {e}", ty.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut iters: Vec<_> = decoded.into_iter().map(Vec::into_iter).collect();
        for _ in 0..batch.rows {
            rows.push(iters.iter_mut().map(|it| it.next().unwrap_or(OwnedValue::Null)).collect());
        }
    }
    Ok(rows)
}

fn arrow_column(column: &Column, ty: &ColumnType) -> Result<Vec<OwnedValue>, String> {
    let scale = ty.scale();
    let unexpected = || format!("a {} column sent as Arrow {}", ty.type_name, column_kind(column));
    let map =
        |values: &mut dyn Iterator<Item = Option<OwnedValue>>| values.map(|v| v.unwrap_or(OwnedValue::Null)).collect();
    if let Column::Null(n) = column {
        return Ok(vec![OwnedValue::Null; *n]);
    }
    Ok(match (ty.type_name.as_str(), column) {
        ("fixed", Column::Int(v)) => map(&mut v.iter().map(|x| x.map(|x| fixed(i128::from(x), scale)))),
        ("fixed", Column::Decimal(v)) => map(&mut v.iter().map(|x| x.map(|x| fixed(x, scale)))),
        ("real", Column::Float(v)) => map(&mut v.iter().map(|x| x.map(OwnedValue::Float))),
        ("text", Column::Utf8(v)) => map(&mut v.iter().map(|x| x.clone().map(OwnedValue::Text))),
        ("boolean", Column::Bool(v)) => map(&mut v.iter().map(|x| x.map(OwnedValue::Bool))),
        ("date", Column::Int(v)) => v.iter().map(|x| x.map_or(Ok(OwnedValue::Null), date)).collect::<Result<_, _>>()?,
        ("time", Column::Int(v)) => map(&mut v.iter().map(|x| x.map(|x| time(x, scale)))),
        ("variant" | "object" | "array", Column::Utf8(v)) => map(&mut v.iter().map(|x| x.as_deref().map(json))),
        ("binary", Column::Binary(v)) => map(&mut v.iter().map(|x| x.clone().map(OwnedValue::Bytes))),
        ("timestamp_ntz" | "timestamp_ltz" | "timestamp_tz", Column::Int(v)) => {
            // One integer: the instant in units of 10^-scale seconds.
            v.iter()
                .map(|x| x.map_or(Ok(OwnedValue::Null), |x| timestamp_scaled(i128::from(x), scale)))
                .collect::<Result<_, _>>()?
        }
        ("timestamp_ntz" | "timestamp_ltz" | "timestamp_tz", Column::Struct { valid, children }) => {
            let zoned = ty.type_name == "timestamp_tz";
            timestamp_struct(valid, children, zoned, scale).ok_or_else(unexpected)??
        }
        _ => return Err(unexpected()),
    })
}

/// A timestamp struct, as Snowflake lays them out: TIMESTAMP_NTZ and _LTZ of scale above 7 as
/// `{epoch (s), fraction (ns)}`; TIMESTAMP_TZ as `{epoch (s), fraction (ns), timezone}`, or
/// `{epoch (10^-scale s), timezone}` when its scale is 3 or less. The time zone is dropped:
/// values are UTC.
fn timestamp_struct(
    valid: &[bool],
    children: &[Column],
    zoned: bool,
    scale: u32,
) -> Option<Result<Vec<OwnedValue>, String>> {
    let ints = |c: &Column| if let Column::Int(v) = c { Some(v.clone()) } else { None };
    let epoch = ints(children.first()?)?;
    let fraction = match (zoned, children.len()) {
        (false, 2) | (true, 3) => Some(ints(&children[1])?),
        (true, 2) => None,
        _ => return None,
    };
    Some(
        (0..valid.len())
            .map(|i| match (valid[i], epoch.get(i).copied().flatten()) {
                (true, Some(e)) => match &fraction {
                    Some(f) => timestamp(e, f.get(i).copied().flatten().unwrap_or(0)),
                    None => timestamp_scaled(i128::from(e), scale),
                },
                _ => Ok(OwnedValue::Null),
            })
            .collect(),
    )
}

fn column_kind(column: &Column) -> &'static str {
    match column {
        Column::Null(_) => "null",
        Column::Int(_) => "integer",
        Column::Decimal(_) => "decimal",
        Column::Float(_) => "float",
        Column::Bool(_) => "boolean",
        Column::Utf8(_) => "utf8",
        Column::Binary(_) => "binary",
        Column::Struct { .. } => "struct",
    }
}

/// The rows of a JSON `rowset` (every cell a string or null), typed by `columns`.
pub fn json_rows(rowset: &[Vec<Option<String>>], columns: &[ColumnType]) -> Result<Vec<Vec<OwnedValue>>, String> {
    rowset
        .iter()
        .map(|row| {
            if row.len() != columns.len() {
                return Err(format!("a row of {} cells for {} columns", row.len(), columns.len()));
            }
            row.iter()
                .zip(columns)
                .map(|(cell, ty)| match cell {
                    None => Ok(OwnedValue::Null),
                    Some(text) => json_cell(text, ty).map_err(|e| format!("column {}: {e}", ty.name)),
                })
                .collect()
        })
        .collect()
}

fn json_cell(text: &str, ty: &ColumnType) -> Result<OwnedValue, String> {
    let scale = ty.scale();
    let bad = || format!("{text:?} is not a {} value", ty.type_name);
    Ok(match ty.type_name.as_str() {
        // Snowflake prints NUMBER with its scale's decimals: keep the digits as they are.
        "fixed" => match text.parse::<i64>() {
            Ok(i) if scale == 0 => OwnedValue::Int(i),
            _ if text.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.') && !text.is_empty() => {
                OwnedValue::Numeric(text.to_string())
            }
            _ => return Err(bad()),
        },
        "real" => OwnedValue::Float(text.parse().map_err(|_| bad())?),
        "text" => OwnedValue::Text(text.to_string()),
        "boolean" => match text {
            "1" | "true" | "TRUE" => OwnedValue::Bool(true),
            "0" | "false" | "FALSE" => OwnedValue::Bool(false),
            _ => return Err(bad()),
        },
        "date" => date(text.parse().map_err(|_| bad())?)?,
        "time" => {
            let (secs, nanos) = seconds_fraction(text).ok_or_else(bad)?;
            time(secs * 1_000_000_000 + i64::from(nanos), 9)
        }
        // `SECONDS.FRACTION`, then for TIMESTAMP_TZ a space and the offset (minutes + 1440).
        "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz" => {
            let instant = text.split(' ').next().unwrap_or(text);
            let (secs, nanos) = seconds_fraction(instant).ok_or_else(bad)?;
            timestamp(secs, i64::from(nanos))?
        }
        "variant" | "object" | "array" => json(text),
        "binary" => OwnedValue::Bytes(const_hex::decode(text).map_err(|_| bad())?),
        other => return Err(format!("the Snowflake type {other} is not supported")),
    })
}

/// `123.000456789` → (123, 456789); negative instants (`-1.5`) count down from the epoch.
fn seconds_fraction(text: &str) -> Option<(i64, u32)> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = whole.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().ok()? };
    if text.starts_with('-') && nanos > 0 { Some((secs - 1, 1_000_000_000 - nanos)) } else { Some((secs, nanos)) }
}

/// A NUMBER's unscaled value: an integer when the scale is 0 and it fits, else its digits
/// with `scale` decimals.
fn fixed(unscaled: i128, scale: u32) -> OwnedValue {
    if scale == 0 {
        return match i64::try_from(unscaled) {
            Ok(i) => OwnedValue::Int(i),
            Err(_) => OwnedValue::Numeric(unscaled.to_string()),
        };
    }
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, frac) = padded.split_at(padded.len() - scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    OwnedValue::Numeric(format!("{sign}{whole}.{frac}"))
}

fn date(days: i64) -> Result<OwnedValue, String> {
    i32::try_from(days)
        .ok()
        .and_then(|d| NaiveDate::from_num_days_from_ce_opt(d.checked_add(719_163)?))
        .map(|d| OwnedValue::Timestamp(d.format("%Y-%m-%d").to_string()))
        .ok_or_else(|| format!("day {days} is out of range"))
}

/// A time of day in units of 10^-scale seconds.
fn time(value: i64, scale: u32) -> OwnedValue {
    let unit = 10i64.pow(scale.min(9));
    let (secs, frac) = (value.div_euclid(unit), value.rem_euclid(unit));
    let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        OwnedValue::Text(clock)
    } else {
        OwnedValue::Text(format!("{clock}.{frac:0width$}", width = scale as usize))
    }
}

/// An instant in units of 10^-scale seconds since the epoch.
fn timestamp_scaled(value: i128, scale: u32) -> Result<OwnedValue, String> {
    let unit = 10i128.pow(scale.min(9));
    let secs = i64::try_from(value.div_euclid(unit)).map_err(|_| "a timestamp out of range".to_string())?;
    let nanos = value.rem_euclid(unit) * 10i128.pow(9 - scale.min(9));
    timestamp(secs, nanos as i64)
}

/// Seconds and nanoseconds since the epoch, as RFC 3339 in UTC.
fn timestamp(secs: i64, nanos: i64) -> Result<OwnedValue, String> {
    let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000);
    nanos
        .and_then(|n| DateTime::from_timestamp(secs, n))
        .map(|t| OwnedValue::Timestamp(t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()))
        .ok_or_else(|| format!("the instant {secs} s is out of range"))
}

/// VARIANT, OBJECT and ARRAY arrive as JSON text. Snowflake may write values JSON lacks
/// (`NaN`, `Infinity` in a VARIANT); those are kept as text rather than failing the page.
fn json(text: &str) -> OwnedValue {
    match serde_json::from_str(text) {
        Ok(v) => OwnedValue::Json(v),
        Err(_) => OwnedValue::Text(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(type_name: &str, scale: i64) -> ColumnType {
        ColumnType {
            name: "C".into(),
            type_name: type_name.into(),
            scale: Some(scale),
            precision: None,
            nullable: true,
        }
    }

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(fixed(42, 0), OwnedValue::Int(42));
        assert_eq!(fixed(i128::from(i64::MAX) + 1, 0), OwnedValue::Numeric("9223372036854775808".into()));
        assert_eq!(fixed(1990, 2), OwnedValue::Numeric("19.90".into()));
        assert_eq!(fixed(-5, 3), OwnedValue::Numeric("-0.005".into()));
        assert_eq!(fixed(0, 2), OwnedValue::Numeric("0.00".into()));
        assert_eq!(json_cell("19.90", &ty("fixed", 2)), Ok(OwnedValue::Numeric("19.90".into())));
        assert_eq!(json_cell("7", &ty("fixed", 0)), Ok(OwnedValue::Int(7)));
        assert!(json_cell("7e3", &ty("fixed", 0)).is_err());
    }

    #[test]
    fn dates_times_and_timestamps() {
        assert_eq!(date(0), Ok(OwnedValue::Timestamp("1970-01-01".into())));
        assert_eq!(date(19724), Ok(OwnedValue::Timestamp("2024-01-02".into())));
        assert_eq!(date(-1), Ok(OwnedValue::Timestamp("1969-12-31".into())));
        assert!(date(i64::MAX).is_err());
        assert_eq!(time(37_235, 1), OwnedValue::Text("01:02:03.5".into()));
        assert_eq!(time(3723, 0), OwnedValue::Text("01:02:03".into()));
        assert_eq!(timestamp(1704164645, 123_456_000), Ok(OwnedValue::Timestamp("2024-01-02T03:04:05.123456Z".into())));
        assert_eq!(timestamp(1704164645, 0), Ok(OwnedValue::Timestamp("2024-01-02T03:04:05Z".into())));
        assert_eq!(timestamp_scaled(17041646455, 1), Ok(OwnedValue::Timestamp("2024-01-02T03:04:05.500Z".into())));
        assert_eq!(timestamp_scaled(-1, 3), Ok(OwnedValue::Timestamp("1969-12-31T23:59:59.999Z".into())));
        assert!(timestamp(i64::MAX, 0).is_err());
        // JSON rowset forms, TIMESTAMP_TZ with its offset (+02:00 = 1560) dropped.
        assert_eq!(
            json_cell("1704157445.500000000 1560", &ty("timestamp_tz", 9)),
            Ok(OwnedValue::Timestamp("2024-01-02T01:04:05.500Z".into()))
        );
        assert_eq!(
            json_cell("-1.5", &ty("timestamp_ntz", 9)),
            Ok(OwnedValue::Timestamp("1969-12-31T23:59:58.500Z".into()))
        );
        assert_eq!(json_cell("19724", &ty("date", 0)), Ok(OwnedValue::Timestamp("2024-01-02".into())));
        assert!(json_cell("x.5", &ty("timestamp_ntz", 9)).is_err());
    }

    #[test]
    fn arrow_timestamp_layouts() {
        let ts = |s: &str| OwnedValue::Timestamp(s.into());
        let ints = |v: &[Option<i64>]| Column::Int(v.to_vec());
        // TIMESTAMP_NTZ(3) as one scaled integer.
        let col = ints(&[Some(1_704_164_645_123), None]);
        assert_eq!(
            arrow_column(&col, &ty("timestamp_ntz", 3)),
            Ok(vec![ts("2024-01-02T03:04:05.123Z"), OwnedValue::Null])
        );
        // TIMESTAMP_NTZ(9): {epoch, fraction}.
        let col = Column::Struct {
            valid: vec![true, false],
            children: vec![ints(&[Some(1_704_164_645), Some(0)]), ints(&[Some(5), Some(0)])],
        };
        assert_eq!(
            arrow_column(&col, &ty("timestamp_ltz", 9)),
            Ok(vec![ts("2024-01-02T03:04:05.000000005Z"), OwnedValue::Null])
        );
        // TIMESTAMP_TZ(3): {epoch scaled, timezone}; TIMESTAMP_TZ(9): {epoch, fraction, timezone}.
        let col =
            Column::Struct { valid: vec![true], children: vec![ints(&[Some(1_704_164_645_500)]), ints(&[Some(1560)])] };
        assert_eq!(arrow_column(&col, &ty("timestamp_tz", 3)), Ok(vec![ts("2024-01-02T03:04:05.500Z")]));
        let col = Column::Struct {
            valid: vec![true],
            children: vec![ints(&[Some(1_704_164_645)]), ints(&[Some(500_000_000)]), ints(&[Some(1560)])],
        };
        assert_eq!(arrow_column(&col, &ty("timestamp_tz", 9)), Ok(vec![ts("2024-01-02T03:04:05.500Z")]));
        // A layout that is none of these is an error naming both types.
        let err = arrow_column(&Column::Float(vec![Some(1.0)]), &ty("timestamp_tz", 9)).unwrap_err();
        assert!(err.contains("timestamp_tz") && err.contains("float"), "{err}");
        // NUMBER(38, 2) as a 128-bit decimal.
        let col = Column::Decimal(vec![Some(-1_234_567_890_123_456_789_012_345), None]);
        assert_eq!(
            arrow_column(&col, &ty("fixed", 2)),
            Ok(vec![OwnedValue::Numeric("-12345678901234567890123.45".into()), OwnedValue::Null])
        );
    }

    #[test]
    fn other_json_cells() {
        assert_eq!(json_cell("1", &ty("boolean", 0)), Ok(OwnedValue::Bool(true)));
        assert_eq!(json_cell("false", &ty("boolean", 0)), Ok(OwnedValue::Bool(false)));
        assert_eq!(json_cell("DEADBEEF", &ty("binary", 0)), Ok(OwnedValue::Bytes(vec![0xde, 0xad, 0xbe, 0xef])));
        assert_eq!(json_cell("{\"a\":[1]}", &ty("variant", 0)), Ok(OwnedValue::Json(serde_json::json!({"a": [1]}))));
        assert_eq!(json_cell("NaN", &ty("variant", 0)), Ok(OwnedValue::Text("NaN".into())));
        assert_eq!(json_cell("2.5", &ty("real", 0)), Ok(OwnedValue::Float(2.5)));
        assert!(json_cell("x", &ty("geography", 0)).unwrap_err().contains("not supported"));
        assert!(json_rows(&[vec![Some("1".into())]], &[ty("fixed", 0), ty("text", 0)]).is_err());
    }
}
