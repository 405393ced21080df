//! Normalisation presets (`normalize = "email"`): the text clean-up ad platforms ask for before
//! hashing, so that the same person hashes to the same digest on both sides.
//!
//! What the platforms document (docs/design/decisions.md, Fields, June–August 2025):
//! * e-mail: Google Ads Customer Match, Meta, LinkedIn and X all trim white space and lower-case
//!   before SHA-256. Gmail-specific rewrites (dropping dots or a `+suffix`) are Google-only and
//!   inconsistently documented, so no preset does them.
//! * phone: Google (Ads, DV360) wants E.164 with the `+` and the country code
//!   (`+16502531234`); Meta wants the country code without `+` and without symbols or letters
//!   (`16502531234`, which is `phone_digits` of a number written with its country code); TikTok
//!   documents both forms on different pages.
//!
//! Every preset returns its result borrowed from the input when nothing changes, and otherwise
//! writes it into a buffer the caller reuses, so that the common path allocates nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A normalisation preset of a field, applied before hashing (or before sending, for fields
/// without a hash algorithm). Names are the exact lowercase words below.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// The value as the warehouse holds it.
    #[default]
    None,
    /// Unicode white space (the `White_Space` property: U+00A0, U+2003, U+3000 and the like)
    /// removed at both ends. Zero-width characters (U+200B, U+FEFF) are not white space and stay.
    Trim,
    /// Unicode lower case, without locale rules: `İ` becomes `i̇` (i and U+0307), `ẞ`
    /// becomes `ß`, and a final `Σ` becomes `ς`, as JavaScript's `toLowerCase` does.
    Lowercase,
    /// `trim`, then `lowercase`: the e-mail rule of Google, Meta, LinkedIn and X.
    Email,
    /// Every character that is not an ASCII digit removed (`+49 (151) 234-56` →
    /// `4915123456`): Meta's phone form when the number carries its country code. Digits of
    /// other scripts count as non-digits.
    PhoneDigits,
    /// E.164: `+` and the digits (`+16502531234`), Google's phone form. See [`PhoneProblem`]
    /// for what fails the record.
    ///
    /// The number must carry its country code, written as a leading `+` or `00` (`00` becomes
    /// `+`); there is no default country to guess from. White space, `-`, `.`, `/`,
    /// parentheses and Unicode dashes are separators and removed; a `(0)` after the country
    /// code (the national trunk prefix in `+44 (0)20 7946 0958`) is removed too. Any other
    /// character (a letter, `#`, `*`, an extension) fails the record rather than being dropped,
    /// since a number with letters in it is not one the platform can match. The result has 7 to
    /// 15 digits and its country code does not start with 0.
    PhoneE164,
}

impl Normalization {
    /// The configuration name (`"phone_e164"`).
    pub const fn name(self) -> &'static str {
        match self {
            Normalization::None => "none",
            Normalization::Trim => "trim",
            Normalization::Lowercase => "lowercase",
            Normalization::Email => "email",
            Normalization::PhoneDigits => "phone_digits",
            Normalization::PhoneE164 => "phone_e164",
        }
    }

    /// Normalises `input`, borrowing it when nothing changes and writing into `buf` (cleared
    /// first) otherwise. An empty result means the value is dropped.
    pub fn apply<'a>(self, input: &'a str, buf: &'a mut String) -> Result<&'a str, PhoneProblem> {
        Ok(match self {
            Normalization::None => input,
            Normalization::Trim => input.trim(),
            Normalization::Lowercase => lowercase(input, buf),
            Normalization::Email => lowercase(input.trim(), buf),
            Normalization::PhoneDigits => phone_digits(input, buf),
            Normalization::PhoneE164 => return phone_e164(input, buf),
        })
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown normalisation name; its message lists the accepted ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownNormalization(pub String);

impl fmt::Display for UnknownNormalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown normalization `{}`: expected one of none, trim, lowercase, email, phone_digits, phone_e164",
            self.0
        )
    }
}

impl std::error::Error for UnknownNormalization {}

impl std::str::FromStr for Normalization {
    type Err = UnknownNormalization;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use Normalization::*;
        [None, Trim, Lowercase, Email, PhoneDigits, PhoneE164]
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| UnknownNormalization(s.to_owned()))
    }
}

/// Why `phone_e164` rejected a value. The messages never quote the value (it is PII).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhoneProblem {
    /// `6502531234`: neither `+` nor `00` in front, so the country is unknown.
    NoCountryCode,
    /// `+1 650 FLOWERS`, `+1 650 253 1234 ext. 5`, `+49 151 #1`, or a `+` after the first digit.
    InvalidCharacter,
    /// `+0049…`, `000…`: country codes never start with 0.
    CountryCodeZero,
    /// `+123456`: fewer than 7 digits, shorter than any number in service.
    TooShort,
    /// More than 15 digits, the E.164 maximum.
    TooLong,
}

impl fmt::Display for PhoneProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhoneProblem::NoCountryCode => "the phone number has no country code (write it with a leading + or 00)",
            PhoneProblem::InvalidCharacter => {
                "the phone number contains a character that is neither a digit nor a separator (space - . / ( ))"
            }
            PhoneProblem::CountryCodeZero => "the phone number's country code starts with 0",
            PhoneProblem::TooShort => "the phone number has fewer than 7 digits",
            PhoneProblem::TooLong => "the phone number has more than 15 digits (the E.164 maximum)",
        })
    }
}

fn lowercase<'a>(input: &'a str, buf: &'a mut String) -> &'a str {
    if input.is_ascii() {
        if !input.bytes().any(|b| b.is_ascii_uppercase()) {
            return input;
        }
        buf.clear();
        buf.push_str(input);
        buf.make_ascii_lowercase();
        return buf;
    }
    buf.clear();
    if input.contains('Σ') {
        // Only `str::to_lowercase` knows the final-sigma rule; it allocates, but Greek capital
        // sigma is rare enough.
        buf.push_str(&input.to_lowercase());
    } else {
        buf.extend(input.chars().flat_map(char::to_lowercase));
    }
    buf
}

fn phone_digits<'a>(input: &'a str, buf: &'a mut String) -> &'a str {
    if input.bytes().all(|b| b.is_ascii_digit()) {
        return input;
    }
    buf.clear();
    buf.extend(input.chars().filter(char::is_ascii_digit));
    buf
}

/// Characters `phone_e164` drops between digits.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '/' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

fn phone_e164<'a>(input: &'a str, buf: &'a mut String) -> Result<&'a str, PhoneProblem> {
    buf.clear();
    buf.push('+');
    let mut plus = false;
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        let digits_so_far = buf.len() > 1;
        if digits_so_far && rest.starts_with("(0)") {
            rest = &rest[3..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c.is_ascii_digit() {
            buf.push(c);
        } else if c == '+' && !plus && !digits_so_far {
            // Only before the first digit (after an opening parenthesis is fine: `(+49) 30…`).
            plus = true;
        } else if !is_separator(c) {
            return Err(PhoneProblem::InvalidCharacter);
        }
    }
    if buf.len() == 1 {
        // Nothing but separators (or a lone `+`): the value is empty, dropped and counted.
        buf.clear();
        return Ok(buf);
    }
    if !plus {
        if !buf[1..].starts_with("00") {
            return Err(PhoneProblem::NoCountryCode);
        }
        buf.replace_range(1..3, "");
    }
    let digits = buf.len() - 1;
    if buf[1..].starts_with('0') {
        Err(PhoneProblem::CountryCodeZero)
    } else if digits < 7 {
        Err(PhoneProblem::TooShort)
    } else if digits > 15 {
        Err(PhoneProblem::TooLong)
    } else {
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(n: Normalization, s: &str) -> Result<String, PhoneProblem> {
        n.apply(s, &mut String::new()).map(str::to_owned)
    }

    #[test]
    fn names_round_trip() {
        use Normalization::*;
        for n in [None, Trim, Lowercase, Email, PhoneDigits, PhoneE164] {
            assert_eq!(n.name().parse::<Normalization>(), Ok(n));
            assert_eq!(serde_json::to_string(&n).unwrap(), format!("\"{}\"", n.name()));
        }
        assert!("Email".parse::<Normalization>().unwrap_err().to_string().contains("phone_e164"));
    }

    #[test]
    fn unchanged_values_are_borrowed() {
        let mut buf = String::from("scratch");
        let input = "ada@example.com";
        let out = Normalization::Email.apply(input, &mut buf).unwrap();
        assert!(std::ptr::eq(out, input));
        let digits = "4915123456";
        assert!(std::ptr::eq(Normalization::PhoneDigits.apply(digits, &mut buf).unwrap(), digits));
    }

    #[test]
    fn final_sigma() {
        assert_eq!(apply(Normalization::Lowercase, "ΟΔΟΣ").unwrap(), "οδος");
        assert_eq!(apply(Normalization::Lowercase, "Ω").unwrap(), "ω");
    }

    #[test]
    fn e164_zero_after_00_prefix() {
        assert_eq!(apply(Normalization::PhoneE164, "000 49 30 1234567"), Err(PhoneProblem::CountryCodeZero));
        assert_eq!(apply(Normalization::PhoneE164, "++49 30 1234567"), Err(PhoneProblem::InvalidCharacter));
        assert_eq!(apply(Normalization::PhoneE164, "49+30 1234567"), Err(PhoneProblem::InvalidCharacter));
    }
}
