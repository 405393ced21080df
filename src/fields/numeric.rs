//! Warehouse numeric/decimal text as JSON: a number when no digit is lost, otherwise a string.
//!
//! "Exactly an f64" (docs/design/sync.md) is read as: the double nearest to the decimal prints back (as
//! JavaScript prints it) as the same decimal value. `19.99` is then the number `19.99`, since
//! every JSON reader turns that text back into the same double; `0.1000000000000000000001` and
//! `12345678901234567890.5` are strings, since a double would round them. Integers that fit 64
//! bits are always exact numbers (the template engine prints them with every digit).

/// The JSON form of a numeric value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumericJson {
    /// An integer that fits `i64`: a JSON number with every digit.
    Int(i64),
    /// An integer above `i64::MAX` that fits `u64`: a JSON number with every digit.
    UInt(u64),
    /// A decimal whose nearest double prints back (as JavaScript prints it) as the same value.
    Float(f64),
    /// Not exactly a number (too many digits, or `NaN`/`Infinity`, which PostgreSQL numeric
    /// also has): the JSON string of the warehouse's text.
    Text,
}

/// How the decimal `text` is sent.
pub fn numeric_json(text: &str) -> NumericJson {
    if let Ok(i) = text.parse::<i64>() {
        return NumericJson::Int(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return NumericJson::UInt(u);
    }
    let Some(decimal) = Decimal::parse(text) else {
        return NumericJson::Text;
    };
    let f = match text.parse::<f64>() {
        Ok(f) if f.is_finite() => f,
        _ => return NumericJson::Text,
    };
    let mut buf = ryu_js::Buffer::new();
    let printed = buf.format_finite(f);
    match Decimal::parse(printed) {
        Some(back) if back.same_value(&decimal) => NumericJson::Float(f),
        _ => NumericJson::Text,
    }
}

/// A decimal literal `[+-]?digits[.digits]?([eE][+-]?digits)?`, split into its parts.
struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: i64,
}

impl<'a> Decimal<'a> {
    fn parse(s: &'a str) -> Option<Decimal<'a>> {
        let mut b = s.as_bytes();
        let negative = b.first() == Some(&b'-');
        if matches!(b.first(), Some(b'-' | b'+')) {
            b = &b[1..];
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let (int, mut b) = b.split_at(int_len);
        let mut frac: &[u8] = &[];
        if let Some(rest) = b.strip_prefix(b".") {
            let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            (frac, b) = rest.split_at(n);
        }
        if int.is_empty() {
            return None;
        }
        let mut exp = 0i64;
        if let Some(rest) = b.strip_prefix(b"e").or_else(|| b.strip_prefix(b"E")) {
            let (sign, digits) = match rest.first() {
                Some(b'-') => (-1, &rest[1..]),
                Some(b'+') => (1, &rest[1..]),
                _ => (1, rest),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Saturating: an exponent this large is far outside any double anyway.
            exp = digits.iter().fold(0i64, |e, d| e.saturating_mul(10).saturating_add((d - b'0') as i64)) * sign;
            b = &[];
        }
        b.is_empty().then_some(Decimal { negative, int, frac, exp })
    }

    fn digits(&self) -> impl Iterator<Item = u8> + '_ {
        self.int.iter().chain(self.frac).copied()
    }

    /// `(decimal exponent, significant digit count)` of the value written as `0.d1d2… × 10^e`,
    /// or `None` for zero.
    fn shape(&self) -> Option<(i64, usize)> {
        let total = self.int.len() + self.frac.len();
        let leading = self.digits().take_while(|&d| d == b'0').count();
        if leading == total {
            return None;
        }
        let trailing = self.int.iter().chain(self.frac).rev().take_while(|&&d| d == b'0').count();
        let exponent = (self.int.len() as i64 - leading as i64).saturating_add(self.exp);
        Some((exponent, total - leading - trailing))
    }

    /// Whether both literals denote the same number (`1.50` = `1.5` = `15e-1`; `-0` = `0`).
    fn same_value(&self, other: &Decimal<'_>) -> bool {
        match (self.shape(), other.shape()) {
            (None, None) => true,
            (Some((e1, n1)), Some((e2, n2))) => {
                self.negative == other.negative && e1 == e2 && n1 == n2 && self.significant().eq(other.significant())
            }
            _ => false,
        }
    }

    /// The digits from the first non-zero one on (trailing zeros included; `shape` counts them
    /// out).
    fn significant(&self) -> impl Iterator<Item = u8> + '_ {
        let n = self.shape().map_or(0, |(_, n)| n);
        self.digits().skip_while(|&d| d == b'0').take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_forms() {
        for (text, want) in [
            ("42", NumericJson::Int(42)),
            ("-9223372036854775808", NumericJson::Int(i64::MIN)),
            ("18446744073709551615", NumericJson::UInt(u64::MAX)),
            ("19.99", NumericJson::Float(19.99)),
            ("1.50", NumericJson::Float(1.5)),
            ("0.000", NumericJson::Float(0.0)),
            ("-0.5", NumericJson::Float(-0.5)),
            ("100000000000000000000", NumericJson::Float(1e20)),
            ("1e400", NumericJson::Text),
            ("12345678901234567890.5", NumericJson::Text),
            ("0.1000000000000000000001", NumericJson::Text),
            ("9007199254740993.0", NumericJson::Text),
            ("NaN", NumericJson::Text),
            ("Infinity", NumericJson::Text),
            ("", NumericJson::Text),
            (".5", NumericJson::Text),
            ("1.", NumericJson::Text),
        ] {
            assert_eq!(numeric_json(text), want, "{text}");
        }
    }
}
