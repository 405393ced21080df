//! A reader of the Arrow IPC stream format, for the arrays Snowflake sends.
//!
//! Snowflake answers a query with its first rows inline as `rowsetBase64`: an Arrow IPC stream
//! (a schema message, then record batches) whose columns carry Snowflake's own type in their
//! metadata (`logicalType`, `scale`). Only a handful of Arrow layouts occur: integers of 8 to 64
//! bits and 128-bit decimals (NUMBER), 64-bit floats (FLOAT), UTF-8 (VARCHAR and the JSON text
//! of VARIANT, OBJECT and ARRAY), binary, booleans, 32-bit dates, and structs of integers
//! (timestamps as epoch, fraction and time zone).
//!
//! Why not the `arrow-ipc` crate: it brings arrow-array, arrow-buffer, arrow-data,
//! arrow-schema, arrow-select, flatbuffers, half and num-* (about 40 crates with their build
//! dependencies), 27 s of CPU for a debug build on this machine; this reader is a few hundred
//! lines with no dependency. It reads the stream's flatbuffer metadata directly
//! (`Table`), with every offset bounds-checked: a malformed stream is an error, never a panic.
//!
//! Layout reference: the Arrow columnar format, "Serialization and Interprocess Communication
//! (IPC)", and `format/Schema.fbs`, `format/Message.fbs` (field ids below follow their order).

/// One column's Arrow type, as far as this reader tells them apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArrowType {
    /// The null type: every value is null.
    Null,
    /// A signed or unsigned integer.
    Int {
        /// Width in bits: 8, 16, 32 or 64.
        bits: u8,
        /// Whether the integer is signed.
        signed: bool,
    },
    /// 16 (half), 32 or 64 bits.
    Float {
        /// Width in bits.
        bits: u8,
    },
    /// A fixed-point decimal.
    Decimal {
        /// Total significant digits.
        precision: i32,
        /// Digits after the decimal point.
        scale: i32,
        /// Width of the stored integer, in bits; only 128 is read.
        bits: i32,
    },
    /// A boolean, one bit per value.
    Bool,
    /// UTF-8 text with 32-bit offsets.
    Utf8,
    /// UTF-8 text with 64-bit offsets.
    LargeUtf8,
    /// Bytes with 32-bit offsets.
    Binary,
    /// Bytes with 64-bit offsets.
    LargeBinary,
    /// Bytes of this fixed width per value.
    FixedSizeBinary(i32),
    /// `true`: days in 32 bits; `false`: milliseconds in 64 bits.
    Date {
        /// See the variant.
        days: bool,
    },
    /// Time of day in 32 or 64 bits (unit from the field's Snowflake scale).
    Time {
        /// Width in bits: 32 or 64.
        bits: u8,
    },
    /// A struct: its fields are the [`Field::children`].
    Struct,
    /// Any other Arrow type (lists, maps, unions...), by its `Type` union id.
    Unsupported(u8),
}

/// A column of the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The column's name.
    pub name: String,
    /// The column's type.
    pub data_type: ArrowType,
    /// A struct's fields; empty for other types.
    pub children: Vec<Field>,
    /// Custom metadata; Snowflake puts `logicalType`, `scale`, `precision`, `charLength` here.
    pub metadata: Vec<(String, String)>,
}

impl Field {
    /// The custom metadata value of `key`, if present.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// One column of one record batch, decoded. Nulls are `None`.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// The Arrow null type: every value is null.
    Null(usize),
    /// Every integer width, dates and times (as their raw count).
    Int(Vec<Option<i64>>),
    /// 128-bit decimals, as the unscaled integer.
    Decimal(Vec<Option<i128>>),
    /// Floats of 32 and 64 bits, widened to 64.
    Float(Vec<Option<f64>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// Text, both offset widths.
    Utf8(Vec<Option<String>>),
    /// Bytes, of every binary type.
    Binary(Vec<Option<Vec<u8>>>),
    /// A struct's own validity and its child columns.
    Struct {
        /// Per row: whether the struct is not null.
        valid: Vec<bool>,
        /// One column per child field, in schema order.
        children: Vec<Column>,
    },
}

impl Column {
    /// Number of values (rows).
    pub fn len(&self) -> usize {
        match self {
            Column::Null(n) => *n,
            Column::Int(v) => v.len(),
            Column::Decimal(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Utf8(v) => v.len(),
            Column::Binary(v) => v.len(),
            Column::Struct { valid, .. } => valid.len(),
        }
    }

    /// Whether the column holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A record batch: `rows` rows, one [`Column`] per schema field.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Number of rows.
    pub rows: usize,
    /// One column per schema field, in schema order.
    pub columns: Vec<Column>,
}

/// A whole IPC stream: its schema and its record batches.
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    /// The schema: one field per column.
    pub fields: Vec<Field>,
    /// The record batches, in stream order.
    pub batches: Vec<Batch>,
}

/// The most rows a batch may claim beyond what its body could hold (see [`read_batch`]).
const MAX_BODYLESS_ROWS: usize = 65_536;

/// Reads an IPC stream. The error says what is malformed or unsupported.
pub fn read_stream(bytes: &[u8]) -> Result<Stream, String> {
    let mut fields: Option<Vec<Field>> = None;
    let mut batches = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        // Each message: [0xFFFFFFFF continuation] u32 metadata length, the flatbuffer Message
        // (padded to 8 bytes, padding included in the length), then the body.
        let mut len = u32_at(bytes, pos)? as usize;
        pos += 4;
        if len == 0xFFFF_FFFF {
            len = u32_at(bytes, pos)? as usize;
            pos += 4;
        }
        if len == 0 {
            break; // end of stream
        }
        let meta = slice(bytes, pos, len)?;
        pos += len;
        let message = Table::root(meta)?;
        let header_type = message.u8(1, 0)?;
        let header = message.table(2)?.ok_or("an IPC message without a header")?;
        let body_len = usize::try_from(message.i64(3, 0)?).map_err(|_| "a negative IPC body length")?;
        let body = slice(bytes, pos, body_len)?;
        pos += body_len;
        match header_type {
            1 => fields = Some(header.tables(1)?.into_iter().map(|t| read_field(t, 0)).collect::<Result<_, _>>()?),
            2 => return Err("dictionary-encoded Arrow columns are not supported".into()),
            3 => {
                let schema = fields.as_deref().ok_or("a record batch before the schema")?;
                batches.push(read_batch(&header, body, schema)?);
            }
            other => return Err(format!("unexpected IPC message type {other}")),
        }
    }
    Ok(Stream { fields: fields.ok_or("an Arrow stream without a schema")?, batches })
}

/// How deep fields may nest (Snowflake's timestamps nest once). A corrupt schema could point a
/// field's children back at itself; the limit turns that into an error, not a stack overflow.
const MAX_NESTING: usize = 8;

fn read_field(table: Table<'_>, depth: usize) -> Result<Field, String> {
    if depth > MAX_NESTING {
        return Err(format!("fields nested more than {MAX_NESTING} deep"));
    }
    let name = table.string(0)?.unwrap_or_default().to_string();
    let type_id = table.u8(2, 0)?;
    let ty = table.table(3)?;
    // Absent type tables read as their defaults, as flatbuffers defines.
    let int = |id: usize, default: i32| ty.as_ref().map_or(Ok(default), |t| t.i32(id, default));
    let short = |id: usize, default: i16| ty.as_ref().map_or(Ok(default), |t| t.i16(id, default));
    if table.table(4)?.is_some() {
        return Err(format!("column {name:?} is dictionary-encoded, which is not supported"));
    }
    let data_type = match type_id {
        1 => ArrowType::Null,
        2 => ArrowType::Int {
            bits: u8::try_from(int(0, 0)?).map_err(|_| "a bad integer width")?,
            signed: ty.as_ref().map_or(Ok(false), |t| t.bool(1, false))?,
        },
        3 => ArrowType::Float {
            bits: match short(0, 0)? {
                0 => 16,
                1 => 32,
                _ => 64,
            },
        },
        4 => ArrowType::Binary,
        5 => ArrowType::Utf8,
        6 => ArrowType::Bool,
        7 => ArrowType::Decimal { precision: int(0, 0)?, scale: int(1, 0)?, bits: int(2, 128)? },
        // DateUnit: DAY = 0, MILLISECOND = 1 (the default).
        8 => ArrowType::Date { days: short(0, 1)? == 0 },
        9 => ArrowType::Time { bits: if int(1, 32)? == 64 { 64 } else { 32 } },
        13 => ArrowType::Struct,
        15 => ArrowType::FixedSizeBinary(int(0, 0)?),
        19 => ArrowType::LargeBinary,
        20 => ArrowType::LargeUtf8,
        other => ArrowType::Unsupported(other),
    };
    let children = table.tables(5)?.into_iter().map(|t| read_field(t, depth + 1)).collect::<Result<_, _>>()?;
    let mut metadata = Vec::new();
    for kv in table.tables(6)? {
        metadata.push((kv.string(0)?.unwrap_or_default().to_string(), kv.string(1)?.unwrap_or_default().to_string()));
    }
    Ok(Field { name, data_type, children, metadata })
}

/// The nodes and buffers of a record batch, consumed in schema order (depth first).
struct BatchCursor<'a> {
    body: &'a [u8],
    /// The batch's row count: every array of the batch has exactly this length.
    rows: usize,
    nodes: Vec<(i64, i64)>,
    buffers: Vec<(i64, i64)>,
    next_node: usize,
    next_buffer: usize,
}

impl<'a> BatchCursor<'a> {
    /// The next field node: (length, null count).
    fn node(&mut self) -> Result<(usize, usize), String> {
        let (len, nulls) = *self.nodes.get(self.next_node).ok_or("a record batch with too few field nodes")?;
        self.next_node += 1;
        let len = usize::try_from(len).map_err(|_| "a negative array length")?;
        let nulls = usize::try_from(nulls).map_err(|_| "a negative null count")?;
        if len != self.rows || nulls > len {
            return Err(format!("an array of {len} values ({nulls} null) in a batch of {} rows", self.rows));
        }
        Ok((len, nulls))
    }

    fn buffer(&mut self) -> Result<&'a [u8], String> {
        let (offset, len) = *self.buffers.get(self.next_buffer).ok_or("a record batch with too few buffers")?;
        self.next_buffer += 1;
        let offset = usize::try_from(offset).map_err(|_| "a negative buffer offset")?;
        let len = usize::try_from(len).map_err(|_| "a negative buffer length")?;
        slice(self.body, offset, len)
    }
}

fn read_batch(header: &Table<'_>, body: &[u8], fields: &[Field]) -> Result<Batch, String> {
    let rows = usize::try_from(header.i64(0, 0)?).map_err(|_| "a negative row count")?;
    if header.table(3)?.is_some() {
        return Err("compressed Arrow record batches are not supported".into());
    }
    // Every value takes at least a bit of the body, but for the null type, which takes none:
    // a row count the body cannot hold is corrupt, and must not size an allocation.
    if rows > (body.len() * 8).max(MAX_BODYLESS_ROWS) {
        return Err(format!("a batch of {rows} rows in a body of {} bytes", body.len()));
    }
    let mut cursor = BatchCursor {
        body,
        rows,
        nodes: header.structs(1, 16, |b| Ok((i64_at(b, 0)?, i64_at(b, 8)?)))?,
        buffers: header.structs(2, 16, |b| Ok((i64_at(b, 0)?, i64_at(b, 8)?)))?,
        next_node: 0,
        next_buffer: 0,
    };
    let columns = fields.iter().map(|f| read_column(f, &mut cursor)).collect::<Result<Vec<_>, _>>()?;
    Ok(Batch { rows, columns })
}

/// Whether value `i` is valid: a missing bitmap means no nulls.
fn is_valid(bitmap: &[u8], i: usize) -> bool {
    bitmap.is_empty() || bitmap.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)
}

fn read_column(field: &Field, cursor: &mut BatchCursor<'_>) -> Result<Column, String> {
    let (len, nulls) = cursor.node()?;
    let name = &field.name;
    if field.data_type == ArrowType::Null {
        return Ok(Column::Null(len)); // no buffers
    }
    let validity = cursor.buffer()?;
    if nulls > 0 && validity.len() * 8 < len {
        return Err(format!("column {name:?}: a validity bitmap too short for {len} values"));
    }
    let valid = |i: usize| is_valid(validity, i);
    // Fixed-width values: `width` bytes each, decoded by `get`.
    fn fixed<T>(
        values: &[u8],
        len: usize,
        width: usize,
        valid: impl Fn(usize) -> bool,
        get: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Vec<Option<T>>, String> {
        if len.checked_mul(width).is_none_or(|n| values.len() < n) {
            return Err(format!("a values buffer of {} bytes for {len} values of {width} bytes", values.len()));
        }
        (0..len).map(|i| if valid(i) { get(&values[i * width..(i + 1) * width]).map(Some) } else { Ok(None) }).collect()
    }
    let column = match &field.data_type {
        ArrowType::Int { bits, signed } => {
            let values = cursor.buffer()?;
            let width = usize::from(*bits / 8);
            Column::Int(fixed(values, len, width, valid, |b| int_value(b, *signed))?)
        }
        ArrowType::Date { days } => {
            let values = cursor.buffer()?;
            let width = if *days { 4 } else { 8 };
            Column::Int(fixed(values, len, width, valid, |b| int_value(b, true))?)
        }
        ArrowType::Time { bits } => {
            let values = cursor.buffer()?;
            Column::Int(fixed(values, len, usize::from(*bits / 8), valid, |b| int_value(b, true))?)
        }
        ArrowType::Float { bits } => {
            let values = cursor.buffer()?;
            match bits {
                64 => Column::Float(fixed(values, len, 8, valid, |b| Ok(f64::from_le_bytes(array(b)?)))?),
                32 => Column::Float(fixed(values, len, 4, valid, |b| Ok(f64::from(f32::from_le_bytes(array(b)?))))?),
                _ => return Err(format!("column {name:?}: half-precision floats are not supported")),
            }
        }
        ArrowType::Decimal { bits: 128, .. } => {
            let values = cursor.buffer()?;
            Column::Decimal(fixed(values, len, 16, valid, |b| Ok(i128::from_le_bytes(array(b)?)))?)
        }
        ArrowType::Bool => {
            let values = cursor.buffer()?;
            if values.len() * 8 < len {
                return Err(format!("column {name:?}: a boolean buffer too short for {len} values"));
            }
            Column::Bool((0..len).map(|i| valid(i).then(|| values[i / 8] >> (i % 8) & 1 == 1)).collect())
        }
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Binary | ArrowType::LargeBinary => {
            let wide = matches!(field.data_type, ArrowType::LargeUtf8 | ArrowType::LargeBinary);
            let offsets = cursor.buffer()?;
            let data = cursor.buffer()?;
            let width = if wide { 8 } else { 4 };
            if len > 0 && offsets.len() < (len + 1) * width {
                return Err(format!("column {name:?}: an offsets buffer too short for {len} values"));
            }
            let offset = |i: usize| -> Result<usize, String> {
                let b = &offsets[i * width..(i + 1) * width];
                usize::try_from(int_value(b, true)?).map_err(|_| "a negative offset".to_string())
            };
            let mut values = Vec::with_capacity(len);
            for i in 0..len {
                if !valid(i) {
                    values.push(None);
                    continue;
                }
                let (start, end) = (offset(i)?, offset(i + 1)?);
                let bytes = data
                    .get(start..end)
                    .ok_or_else(|| format!("column {name:?}: value {i} lies outside its data buffer"))?;
                values.push(Some(bytes));
            }
            if matches!(field.data_type, ArrowType::Utf8 | ArrowType::LargeUtf8) {
                let text = values
                    .into_iter()
                    .map(|v| v.map(|b| std::str::from_utf8(b).map(str::to_string)).transpose())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("column {name:?}: text that is not UTF-8"))?;
                Column::Utf8(text)
            } else {
                Column::Binary(values.into_iter().map(|v| v.map(<[u8]>::to_vec)).collect())
            }
        }
        ArrowType::FixedSizeBinary(width) => {
            let values = cursor.buffer()?;
            let width = usize::try_from(*width).map_err(|_| "a negative binary width")?;
            Column::Binary(fixed(values, len, width, valid, |b| Ok(b.to_vec()))?)
        }
        ArrowType::Struct => {
            let valid = (0..len).map(valid).collect();
            let children = field.children.iter().map(|f| read_column(f, cursor)).collect::<Result<_, _>>()?;
            Column::Struct { valid, children }
        }
        other => return Err(format!("column {name:?}: the Arrow type {other:?} is not supported")),
    };
    Ok(column)
}

/// A little-endian integer of 1, 2, 4 or 8 bytes.
fn int_value(b: &[u8], signed: bool) -> Result<i64, String> {
    Ok(match (b.len(), signed) {
        (1, true) => i64::from(b[0] as i8),
        (1, false) => i64::from(b[0]),
        (2, true) => i64::from(i16::from_le_bytes(array(b)?)),
        (2, false) => i64::from(u16::from_le_bytes(array(b)?)),
        (4, true) => i64::from(i32::from_le_bytes(array(b)?)),
        (4, false) => i64::from(u32::from_le_bytes(array(b)?)),
        (8, true) => i64::from_le_bytes(array(b)?),
        (8, false) => i64::try_from(u64::from_le_bytes(array(b)?)).map_err(|_| "an unsigned value past i64")?,
        (n, _) => return Err(format!("an integer of {n} bytes")),
    })
}

fn array<const N: usize>(b: &[u8]) -> Result<[u8; N], String> {
    b.try_into().map_err(|_| format!("expected {N} bytes, found {}", b.len()))
}

fn slice(buf: &[u8], at: usize, len: usize) -> Result<&[u8], String> {
    at.checked_add(len)
        .and_then(|end| buf.get(at..end))
        .ok_or_else(|| format!("{len} bytes at offset {at} lie past the end ({} bytes)", buf.len()))
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, String> {
    Ok(u16::from_le_bytes(array(slice(buf, at, 2)?)?))
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, String> {
    Ok(u32::from_le_bytes(array(slice(buf, at, 4)?)?))
}

fn i64_at(buf: &[u8], at: usize) -> Result<i64, String> {
    Ok(i64::from_le_bytes(array(slice(buf, at, 8)?)?))
}

/// A flatbuffer table: `pos` is where the table starts in `buf`. Field ids are the order of
/// the fields in the `.fbs` schema (unions take two ids: the type byte, then the value).
#[derive(Clone, Copy)]
struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Table<'a> {
    fn root(buf: &'a [u8]) -> Result<Table<'a>, String> {
        Ok(Table { buf, pos: u32_at(buf, 0)? as usize })
    }

    /// Where field `id` is stored, or `None` when absent (then it has its default value).
    fn field(&self, id: usize) -> Result<Option<usize>, String> {
        let back = i64::from(u32_at(self.buf, self.pos)? as i32);
        let vtable = usize::try_from(self.pos as i64 - back).map_err(|_| "a vtable before the buffer")?;
        let vtable_len = usize::from(u16_at(self.buf, vtable)?);
        let slot = 4 + 2 * id;
        if slot + 2 > vtable_len {
            return Ok(None);
        }
        let offset = usize::from(u16_at(self.buf, vtable + slot)?);
        Ok((offset != 0).then_some(self.pos + offset))
    }

    fn u8(&self, id: usize, default: u8) -> Result<u8, String> {
        match self.field(id)? {
            Some(at) => Ok(slice(self.buf, at, 1)?[0]),
            None => Ok(default),
        }
    }

    fn bool(&self, id: usize, default: bool) -> Result<bool, String> {
        Ok(self.u8(id, u8::from(default))? != 0)
    }

    fn i16(&self, id: usize, default: i16) -> Result<i16, String> {
        match self.field(id)? {
            Some(at) => Ok(u16_at(self.buf, at)? as i16),
            None => Ok(default),
        }
    }

    fn i32(&self, id: usize, default: i32) -> Result<i32, String> {
        match self.field(id)? {
            Some(at) => Ok(u32_at(self.buf, at)? as i32),
            None => Ok(default),
        }
    }

    fn i64(&self, id: usize, default: i64) -> Result<i64, String> {
        match self.field(id)? {
            Some(at) => i64_at(self.buf, at),
            None => Ok(default),
        }
    }

    /// Follows the offset stored at `at` (relative to `at`).
    fn deref(&self, at: usize) -> Result<usize, String> {
        at.checked_add(u32_at(self.buf, at)? as usize).ok_or_else(|| "an offset past the end".to_string())
    }

    fn table(&self, id: usize) -> Result<Option<Table<'a>>, String> {
        match self.field(id)? {
            Some(at) => Ok(Some(Table { buf: self.buf, pos: self.deref(at)? })),
            None => Ok(None),
        }
    }

    /// A vector field: (position of its first element, element count).
    fn vector(&self, id: usize) -> Result<Option<(usize, usize)>, String> {
        match self.field(id)? {
            Some(at) => {
                let start = self.deref(at)?;
                Ok(Some((start + 4, u32_at(self.buf, start)? as usize)))
            }
            None => Ok(None),
        }
    }

    fn string(&self, id: usize) -> Result<Option<&'a str>, String> {
        match self.vector(id)? {
            Some((start, len)) => std::str::from_utf8(slice(self.buf, start, len)?)
                .map(Some)
                .map_err(|_| "a flatbuffer string that is not UTF-8".to_string()),
            None => Ok(None),
        }
    }

    /// A vector of tables.
    fn tables(&self, id: usize) -> Result<Vec<Table<'a>>, String> {
        let Some((start, len)) = self.vector(id)? else { return Ok(Vec::new()) };
        slice(self.buf, start, len.checked_mul(4).ok_or("a vector too long")?)?;
        (0..len).map(|i| Ok(Table { buf: self.buf, pos: self.deref(start + 4 * i)? })).collect()
    }

    /// A vector of structs of `size` bytes, each decoded by `get`.
    fn structs<T>(&self, id: usize, size: usize, get: impl Fn(&[u8]) -> Result<T, String>) -> Result<Vec<T>, String> {
        let Some((start, len)) = self.vector(id)? else { return Ok(Vec::new()) };
        let bytes = slice(self.buf, start, len.checked_mul(size).ok_or("a vector too long")?)?;
        bytes.chunks_exact(size).map(get).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_streams_are_errors() {
        assert!(read_stream(&[]).unwrap_err().contains("without a schema"));
        assert!(read_stream(&[0xff, 0xff, 0xff, 0xff, 0x10]).is_err());
        assert!(read_stream(&[0xff, 0xff, 0xff, 0xff, 0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]).is_err());
        // Every prefix and every single-byte corruption of a real stream is an error or a
        // stream, never a panic (the real streams are tested in tests/snowflake_protocol.rs).
        let junk: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37)).collect();
        for n in 0..junk.len() {
            let _ = read_stream(&junk[..n]);
        }
    }

    #[test]
    fn validity_bits() {
        assert!(is_valid(&[], 99));
        assert!(is_valid(&[0b0000_0101], 0));
        assert!(!is_valid(&[0b0000_0101], 1));
        assert!(is_valid(&[0b0000_0101], 2));
        assert!(!is_valid(&[0b0000_0101], 9), "past the bitmap is null, not a panic");
    }

    #[test]
    fn integers() {
        assert_eq!(int_value(&[0xff], true), Ok(-1));
        assert_eq!(int_value(&[0xff], false), Ok(255));
        assert_eq!(int_value(&[0xfe, 0xff], true), Ok(-2));
        assert_eq!(int_value(&u64::MAX.to_le_bytes(), true), Ok(-1));
        assert!(int_value(&u64::MAX.to_le_bytes(), false).is_err());
        assert!(int_value(&[1, 2, 3], true).is_err());
    }
}
