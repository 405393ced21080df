//! SQLite values as the field pipeline reads them ([`WarehouseValue`]), following the table
//! "Warehouse values as JSON" of docs/design/sync.md: borrowed straight from the statement's current row
//! (no copy).

use rusqlite::types::ValueRef;

use crate::fields::{Row, WarehouseValue};

/// A SQLite value as the pipeline reads it. SQLite text is never parsed as JSON; text that is
/// not UTF-8 has no JSON form either, so it is handed over as invalid text (the record then fails
/// with where the first invalid byte is, rather than sending mangled data).
pub fn sqlite_value(value: ValueRef<'_>) -> WarehouseValue<'_> {
    match value {
        ValueRef::Null => WarehouseValue::Null,
        ValueRef::Integer(i) => WarehouseValue::Int(i),
        ValueRef::Real(f) => WarehouseValue::Float(f),
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => WarehouseValue::Text(s),
            Err(_) => WarehouseValue::InvalidText(bytes),
        },
        ValueRef::Blob(bytes) => WarehouseValue::Bytes(bytes),
    }
}

/// The image columns of a SQLite delta row, read in place: column `i` of the image is column
/// `offset + i` of the statement's row.
pub struct SqliteRow<'r, 's> {
    pub row: &'r rusqlite::Row<'s>,
    pub offset: usize,
    pub width: usize,
}

impl Row for SqliteRow<'_, '_> {
    fn value(&self, index: usize) -> Option<WarehouseValue<'_>> {
        if index >= self.width {
            return None;
        }
        self.row.get_ref(self.offset + index).ok().map(sqlite_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_values() {
        assert_eq!(sqlite_value(ValueRef::Null), WarehouseValue::Null);
        assert_eq!(sqlite_value(ValueRef::Integer(i64::MAX)), WarehouseValue::Int(i64::MAX));
        assert_eq!(sqlite_value(ValueRef::Real(1.5)), WarehouseValue::Float(1.5));
        assert_eq!(sqlite_value(ValueRef::Text(b"{\"a\":1}")), WarehouseValue::Text("{\"a\":1}"));
        assert_eq!(sqlite_value(ValueRef::Text(b"\xff")), WarehouseValue::InvalidText(b"\xff"));
        assert_eq!(sqlite_value(ValueRef::Blob(b"x")), WarehouseValue::Bytes(b"x"));
    }
}
