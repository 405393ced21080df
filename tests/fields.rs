//! The field pipeline (docs/design/sync.md "The field pipeline", "Warehouse values as JSON"; the seed's
//! "Data hashing"): hashing, hash-state checks, normalisation presets, required fields, types.

use audience::fields::{
    FieldError, FieldPlan, FieldSettings, FieldSpec, HashAlgorithm, Normalization, OwnedValue, PhoneProblem, PlanError,
    Processed, Scratch, Source, WarehouseValue,
};
use audience::template::batch::FieldValue;
use audience::template::{Connection, RecordBatch, Template};
use serde_json::{Value, json};

use HashAlgorithm::{Md5, Sha256, Sha512};

// Known digests (FIPS 180-2 and RFC 1321 test vectors, and `printf %s … | sha256sum`).
const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const SHA512_EMPTY: &str = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
                            47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const SHA512_ABC: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                          2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
const MD5_EMPTY: &str = "d41d8cd98f00b204e9800998ecf8427e";
const MD5_ABC: &str = "900150983cd24fb0d6963f7d28e17f72";
/// sha256("ada@example.com")
const SHA256_ADA: &str = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72";

/// A slot read back from the batch, owned so that tests can compare it.
#[derive(Clone, Debug, PartialEq)]
enum Got {
    Missing,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Json(Value),
}

fn got(v: FieldValue<'_>) -> Got {
    match v {
        FieldValue::Missing => Got::Missing,
        FieldValue::Null => panic!("the pipeline never writes null"),
        FieldValue::Bool(b) => Got::Bool(b),
        FieldValue::Int(i) => Got::Int(i),
        FieldValue::UInt(u) => Got::UInt(u),
        FieldValue::Float(f) => Got::Float(f),
        FieldValue::Str(s) => Got::Str(s.to_owned()),
        FieldValue::Json(v) => Got::Json(v.clone()),
    }
}

fn s(text: &str) -> Got {
    Got::Str(text.to_owned())
}

fn settings(hash: HashAlgorithm, normalize: Normalization) -> FieldSettings {
    FieldSettings { hash, normalize, ..FieldSettings::default() }
}

fn hashed(hash: HashAlgorithm) -> FieldSettings {
    settings(hash, Normalization::None)
}

fn required(mut s: FieldSettings) -> FieldSettings {
    s.required = true;
    s
}

fn column(name: &str, settings: FieldSettings, index: usize) -> FieldSpec {
    FieldSpec::new(name, settings, Source::Column(index))
}

fn fixed(name: &str, mut settings: FieldSettings, value: impl Into<OwnedValue>) -> FieldSpec {
    settings.is_static = true;
    FieldSpec::new(name, settings, Source::Static(value.into()))
}

/// Runs one record through a plan of `specs`: its slots, or the failure's message.
fn run_full(specs: &[FieldSpec], hash_pii: bool, row: &[WarehouseValue<'_>]) -> Result<(Vec<Got>, Processed), String> {
    let plan = FieldPlan::compile(specs, hash_pii).expect("plan compiles");
    let mut batch = RecordBatch::new(plan.width());
    let mut scratch = Scratch::default();
    match plan.process(row, &mut batch, &mut scratch) {
        Ok(processed) => {
            assert_eq!(batch.len(), 1);
            Ok(((0..plan.width()).map(|f| got(batch.get(0, f))).collect(), processed))
        }
        Err(e) => {
            assert_eq!(batch.len(), 0, "a failed record is not written");
            Err(e.to_string())
        }
    }
}

fn run(specs: &[FieldSpec], hash_pii: bool, row: &[WarehouseValue<'_>]) -> Result<Vec<Got>, String> {
    run_full(specs, hash_pii, row).map(|(slots, _)| slots)
}

/// One field from column 0.
fn one(settings: FieldSettings, hash_pii: bool, value: WarehouseValue<'_>) -> Result<Got, String> {
    run(&[column("f", settings, 0)], hash_pii, &[value]).map(|mut slots| slots.remove(0))
}

fn text(s: &str) -> WarehouseValue<'_> {
    WarehouseValue::Text(s)
}

// ---- The seed's "Data hashing" -------------------------------------------------------------

#[test]
fn hash_pii_hashes_plain_values_to_lowercase_hex() {
    let email = settings(Sha256, Normalization::Email);
    assert_eq!(one(email, true, text("ada@example.com")), Ok(s(SHA256_ADA)));
    assert_eq!(one(email, true, text("  Ada@Example.COM\u{a0}")), Ok(s(SHA256_ADA)));
}

#[test]
fn both_hash_state_messages_are_the_seeds_verbatim() {
    let specs = [column("EMAIL", hashed(Sha256), 0)];
    assert_eq!(
        run(&specs, false, &[text("ada@example.com")]),
        Err("Hashing is disabled but the value for field EMAIL appears to be unhashed. \
             Either enable hashing or send pre-hashed data."
            .to_owned())
    );
    assert_eq!(
        run(&specs, true, &[text(SHA256_ADA)]),
        Err("Hashing is enabled but the value for field EMAIL appears to already be hashed. \
             Either disable hashing or send unhashed data."
            .to_owned())
    );
}

#[test]
fn hash_state_errors_are_typed_and_name_the_field_as_configured() {
    let plan = FieldPlan::compile(&[column("Sha256_Email", hashed(Sha256), 0)], false).unwrap();
    let mut batch = RecordBatch::new(1);
    let err = plan.process(&[text("plain")], &mut batch, &mut Scratch::default()).unwrap_err();
    assert!(matches!(&err, FieldError::NotHashed { field } if &**field == "Sha256_Email"));
    assert_eq!(err.field(), "Sha256_Email");
}

#[test]
fn hash_state_in_both_directions_for_every_algorithm() {
    for (algorithm, digest_of_abc) in [(Sha256, SHA256_ABC), (Sha512, SHA512_ABC), (Md5, MD5_ABC)] {
        let upper = digest_of_abc.to_ascii_uppercase();
        let mixed: String = digest_of_abc
            .chars()
            .enumerate()
            .map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c })
            .collect();
        let field = hashed(algorithm);
        // hash_pii = true: plain values are hashed; digests, in any case, are refused.
        assert_eq!(one(field, true, text("abc")), Ok(s(digest_of_abc)), "{algorithm}");
        for digest in [digest_of_abc, &upper, &mixed] {
            let err = one(field, true, text(digest)).unwrap_err();
            assert!(err.starts_with("Hashing is enabled"), "{algorithm}: {err}");
        }
        // hash_pii = false: digests pass through in lower case; plain values are refused.
        for digest in [digest_of_abc, &upper, &mixed] {
            assert_eq!(one(field, false, text(digest)), Ok(s(digest_of_abc)), "{algorithm}");
        }
        let err = one(field, false, text("abc")).unwrap_err();
        assert!(err.starts_with("Hashing is disabled"), "{algorithm}: {err}");
        // One digit short, one too many, or a non-hex digit: not a digest.
        let n = digest_of_abc.len();
        for almost in [&digest_of_abc[..n - 1], &format!("{digest_of_abc}0"), &format!("{}g", &digest_of_abc[..n - 1])]
        {
            assert!(one(field, false, text(almost)).unwrap_err().starts_with("Hashing is disabled"));
            assert!(one(field, true, text(almost)).is_ok());
        }
    }
}

#[test]
fn looks_hashed_is_specific_to_the_fields_algorithm() {
    // A SHA-256 digest in an MD5 field is plain data to that field (the seed's regex per
    // algorithm): hashed again with hash_pii, refused without.
    assert_eq!(one(hashed(Md5), true, text(SHA256_ABC)).map(|g| matches!(g, Got::Str(d) if d.len() == 32)), Ok(true));
    assert!(one(hashed(Md5), false, text(SHA256_ABC)).unwrap_err().starts_with("Hashing is disabled"));
    assert!(one(hashed(Sha512), false, text(SHA256_ABC)).unwrap_err().starts_with("Hashing is disabled"));
}

#[test]
fn hash_state_check_runs_on_the_raw_value_before_normalisation() {
    // Surrounding white space: not exactly 64 hex digits, so with hash_pii it is plain data
    // (trimmed, then hashed), and without it, it is refused.
    let padded = format!(" {SHA256_ABC} ");
    let field = settings(Sha256, Normalization::Trim);
    let want =
        audience::fields::HashAlgorithm::Sha256.hash_hex(SHA256_ABC.as_bytes(), &mut [0; 128]).unwrap().to_owned();
    assert_eq!(one(field, true, text(&padded)), Ok(Got::Str(want)));
    assert!(one(field, false, text(&padded)).unwrap_err().starts_with("Hashing is disabled"));
}

#[test]
fn pre_hashed_values_are_not_normalised() {
    // phone_digits would keep only the digits of a digest, e-mail would lower-case it anyway:
    // with hash_pii = false neither runs, the digest is only lower-cased.
    let upper = SHA256_ABC.to_ascii_uppercase();
    for normalize in [Normalization::PhoneDigits, Normalization::PhoneE164, Normalization::Email] {
        assert_eq!(one(settings(Sha256, normalize), false, text(&upper)), Ok(s(SHA256_ABC)), "{normalize}");
    }
}

#[test]
fn digests_match_known_test_vectors() {
    let mut buf = [0; 128];
    for (algorithm, input, want) in [
        (Sha256, "", SHA256_EMPTY),
        (Sha256, "abc", SHA256_ABC),
        (Sha256, "ada@example.com", SHA256_ADA),
        (Sha512, "", SHA512_EMPTY),
        (Sha512, "abc", SHA512_ABC),
        (Md5, "", MD5_EMPTY),
        (Md5, "abc", MD5_ABC),
    ] {
        assert_eq!(algorithm.hash_hex(input.as_bytes(), &mut buf), Some(want), "{algorithm}({input:?})");
    }
    assert_eq!(HashAlgorithm::None.hash_hex(b"abc", &mut buf), None);
}

#[test]
fn a_field_without_hash_algorithm_is_sent_as_is_in_both_modes() {
    for hash_pii in [true, false] {
        assert_eq!(one(FieldSettings::default(), hash_pii, text("Ada")), Ok(s("Ada")));
        assert_eq!(one(FieldSettings::default(), hash_pii, text(SHA256_ABC)), Ok(s(SHA256_ABC)));
    }
}

// ---- What each warehouse kind is hashed as --------------------------------------------------

#[test]
fn non_text_values_are_hashed_as_their_text() {
    let sha = |t: &str| Got::Str(Sha256.hash_hex(t.as_bytes(), &mut [0; 128]).unwrap().to_owned());
    let big = json!({"b": [1, 2.5, "x"], "a": null});
    for (value, as_text) in [
        (WarehouseValue::Int(42), "42"),
        (WarehouseValue::Int(-9_007_199_254_740_993), "-9007199254740993"),
        (WarehouseValue::Float(1.5), "1.5"),
        (WarehouseValue::Float(1e21), "1e+21"),
        (WarehouseValue::Float(-0.0), "0"),
        (WarehouseValue::Bool(true), "true"),
        (WarehouseValue::Bool(false), "false"),
        (WarehouseValue::Numeric("1.50"), "1.50"),
        (WarehouseValue::Timestamp("2024-05-01T12:00:00Z"), "2024-05-01T12:00:00Z"),
        (WarehouseValue::Json(&big), r#"{"b":[1,2.5,"x"],"a":null}"#),
    ] {
        assert_eq!(one(hashed(Sha256), true, value), Ok(sha(as_text)), "{value:?}");
    }
}

// ---- Static values ---------------------------------------------------------------------------

#[test]
fn static_values_go_through_the_same_steps() {
    let specs = [
        column("email", hashed(Sha256), 0),
        fixed("org", hashed(Sha256), "abc"),
        fixed("plan", settings(HashAlgorithm::None, Normalization::Lowercase), "GOLD"),
        fixed("tier", FieldSettings::default(), 3i64),
        fixed("vip", FieldSettings::default(), false),
    ];
    assert_eq!(
        run(&specs, true, &[text("ada@example.com")]),
        Ok(vec![s(SHA256_ADA), s(SHA256_ABC), s("gold"), Got::Int(3), Got::Bool(false)])
    );
}

#[test]
fn a_bad_static_value_fails_every_record_and_is_reported_once() {
    let specs = [column("email", hashed(Sha256), 0), fixed("org", hashed(Sha256), SHA256_ABC)];
    let plan = FieldPlan::compile(&specs, true).unwrap();
    let want = "Hashing is enabled but the value for field org appears to already be hashed. \
                Either disable hashing or send unhashed data.";
    assert_eq!(plan.static_error().map(ToString::to_string).as_deref(), Some(want));
    let mut batch = RecordBatch::new(plan.width());
    let mut scratch = Scratch::default();
    for _ in 0..2 {
        let err = plan.process(&[text("ada@example.com")], &mut batch, &mut scratch).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
    // With hash_pii = false the same literal is a digest and passes.
    let plan = FieldPlan::compile(&specs, false).unwrap();
    assert_eq!(plan.static_error(), None);
    assert_eq!(run(&specs, false, &[text(SHA256_ADA)]), Ok(vec![s(SHA256_ADA), s(SHA256_ABC)]));
}

#[test]
fn required_static_value_that_normalises_to_empty_fails() {
    let specs = [fixed("org", required(settings(HashAlgorithm::None, Normalization::Trim)), " \u{3000} ")];
    assert_eq!(run(&specs, true, &[]), Err("required field org is empty or not mapped".to_owned()));
}

// ---- Required fields, dropping -----------------------------------------------------------------

#[test]
fn required_fields_missing_fail_the_record() {
    let req = required(FieldSettings::default());
    let trim = required(settings(HashAlgorithm::None, Normalization::Trim));
    let msg = |f: &str| Err(format!("required field {f} is empty or not mapped"));
    assert_eq!(run(&[FieldSpec::new("email", req, Source::Unmapped)], true, &[]), msg("email"));
    assert_eq!(run(&[column("email", req, 0)], true, &[WarehouseValue::Null]), msg("email"));
    assert_eq!(run(&[column("email", req, 0)], true, &[text("")]), msg("email"));
    assert_eq!(run(&[column("email", trim, 0)], true, &[text(" \u{2003}\t")]), msg("email"));
    let hashed_req = required(settings(Sha256, Normalization::PhoneDigits));
    assert_eq!(run(&[column("phone", hashed_req, 0)], true, &[text("n/a")]), msg("phone"));
    // Present: no failure, even as `false` or 0.
    assert_eq!(run(&[column("b", req, 0)], true, &[WarehouseValue::Bool(false)]), Ok(vec![Got::Bool(false)]));
    assert_eq!(run(&[column("n", req, 0)], true, &[WarehouseValue::Int(0)]), Ok(vec![Got::Int(0)]));
}

#[test]
fn the_reason_is_that_of_the_earliest_step() {
    // Field a: required and missing (step 5); field b: looks hashed under hash_pii (step 3);
    // field c: a phone without country code (step 4). Step 3 wins although b comes after a.
    let specs = [
        column("a", required(FieldSettings::default()), 0),
        column("b", hashed(Sha256), 1),
        column("c", settings(HashAlgorithm::None, Normalization::PhoneE164), 2),
    ];
    let row = [WarehouseValue::Null, text(SHA256_ABC), text("0151 2345678")];
    assert!(run(&specs, true, &row).unwrap_err().starts_with("Hashing is enabled but the value for field b"));
    let row = [WarehouseValue::Null, text("plain"), text("0151 2345678")];
    assert_eq!(
        run(&specs, true, &row),
        Err("field c: the phone number has no country code (write it with a leading + or 00)".to_owned())
    );
    let row = [WarehouseValue::Null, text("plain"), text("+49 151 2345678")];
    assert_eq!(run(&specs, true, &row), Err("required field a is empty or not mapped".to_owned()));
    // Within a step, the first field.
    let specs = [column("x", hashed(Md5), 0), column("y", hashed(Md5), 1)];
    assert!(run(&specs, false, &[text("1"), text("2")]).unwrap_err().contains("field x "));
}

#[test]
fn null_and_empty_values_are_dropped_not_sent() {
    let null_json = Value::Null;
    let empty_json = json!("");
    let specs: Vec<FieldSpec> = (0..6).map(|i| column(&format!("f{i}"), hashed(Sha256), i)).collect();
    let row = [
        WarehouseValue::Null,
        text(""),
        WarehouseValue::Timestamp(""),
        WarehouseValue::Numeric(""),
        WarehouseValue::Json(&null_json),
        WarehouseValue::Json(&empty_json),
    ];
    // Dropped before the hash-state check: no "appears to be unhashed" for them either.
    for hash_pii in [true, false] {
        assert_eq!(run_full(&specs, hash_pii, &row), Ok((vec![Got::Missing; 6], Processed { emptied: 0 })));
    }
    // White space alone is not empty until a preset trims it.
    assert_eq!(one(FieldSettings::default(), true, text(" ")), Ok(s(" ")));
}

#[test]
fn values_that_normalise_to_empty_are_dropped_and_counted() {
    let specs = [
        column("a", settings(HashAlgorithm::None, Normalization::Trim), 0),
        column("b", settings(Sha256, Normalization::PhoneDigits), 1),
        column("c", settings(Sha256, Normalization::Email), 2),
        fixed("d", settings(HashAlgorithm::None, Normalization::Email), "\u{a0}"),
    ];
    let row = [text("\u{2003}"), text("(-)"), text(" Ada@example.com")];
    assert_eq!(
        run_full(&specs, true, &row),
        Ok((vec![Got::Missing, Got::Missing, s(SHA256_ADA), Got::Missing], Processed { emptied: 3 }))
    );
}

// ---- Types ------------------------------------------------------------------------------------

#[test]
fn unhashed_values_keep_their_json_type() {
    let object = json!({"city": "Berlin", "zip": "10115"});
    let beyond_f64 = 9_007_199_254_740_993i64; // 2^53 + 1
    let cases = [
        (WarehouseValue::Bool(false), Got::Bool(false)),
        (WarehouseValue::Bool(true), Got::Bool(true)),
        (WarehouseValue::Int(beyond_f64), Got::Int(beyond_f64)),
        (WarehouseValue::Int(i64::MIN), Got::Int(i64::MIN)),
        (WarehouseValue::Float(0.1), Got::Float(0.1)),
        (WarehouseValue::Float(1e300), Got::Float(1e300)),
        (WarehouseValue::Numeric("19.99"), Got::Float(19.99)),
        (WarehouseValue::Numeric("9007199254740993"), Got::Int(beyond_f64)),
        (WarehouseValue::Numeric("18446744073709551615"), Got::UInt(u64::MAX)),
        (WarehouseValue::Numeric("12345678901234567890.5"), s("12345678901234567890.5")),
        (WarehouseValue::Numeric("NaN"), s("NaN")),
        (WarehouseValue::Text("Ada"), s("Ada")),
        (WarehouseValue::Timestamp("2024-05-01T12:00:00Z"), s("2024-05-01T12:00:00Z")),
        (WarehouseValue::Json(&object), Got::Json(object.clone())),
    ];
    for (value, want) in cases {
        // Unhashed: normalisation is a text operation and leaves numbers, booleans and JSON be.
        let field = settings(HashAlgorithm::None, Normalization::PhoneE164);
        let field = if matches!(value, WarehouseValue::Text(_) | WarehouseValue::Timestamp(_)) {
            FieldSettings::default()
        } else {
            field
        };
        assert_eq!(one(field, true, value), Ok(want), "{value:?}");
    }
}

#[test]
fn values_with_no_json_form_fail_with_a_reason() {
    assert_eq!(
        one(FieldSettings::default(), true, WarehouseValue::Bytes(b"\x00\x01")),
        Err("field f holds binary data (BLOB/bytea), which has no JSON form".to_owned())
    );
    // Even in a hashed field: there is no agreed text to hash.
    assert!(one(hashed(Sha256), true, WarehouseValue::Bytes(b"x")).unwrap_err().contains("binary data"));
    // Text that is not UTF-8 says so and where, hashed or not: never "binary data".
    for (bytes, offset) in [(&b"\xff"[..], 0), (b"ab\xc3", 2), (b"\xc3\xa9t\xe9", 3)] {
        let want =
            format!("field f holds text that is not valid UTF-8: the first invalid byte is at byte offset {offset}");
        assert_eq!(one(FieldSettings::default(), true, WarehouseValue::InvalidText(bytes)), Err(want.clone()));
        assert_eq!(one(hashed(Sha256), true, WarehouseValue::InvalidText(bytes)), Err(want));
    }
    for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(one(FieldSettings::default(), true, WarehouseValue::Float(f)).unwrap_err().contains("NaN or infinity"));
    }
}

#[test]
fn a_row_without_the_mapped_column_fails_the_record() {
    assert_eq!(
        run(&[column("email", FieldSettings::default(), 3)], true, &[text("x")]),
        Err("field email is mapped to column 3, which the row does not have".to_owned())
    );
}

// ---- Normalisation presets -------------------------------------------------------------------

/// `(input, expected)`: `Ok("")` means dropped.
fn table(preset: Normalization, cases: &[(&str, Result<&str, PhoneProblem>)]) {
    let mut buf = String::new();
    for (input, want) in cases {
        assert_eq!(preset.apply(input, &mut buf).map(str::to_owned), want.map(str::to_owned), "{preset}({input:?})");
        // And through the pipeline, unhashed.
        let through = one(settings(HashAlgorithm::None, preset), true, text(input));
        match want {
            Ok("") => assert_eq!(through, Ok(Got::Missing), "{preset}({input:?})"),
            Ok(w) => assert_eq!(through, Ok(s(w)), "{preset}({input:?})"),
            Err(p) => assert_eq!(through, Err(format!("field f: {p}")), "{preset}({input:?})"),
        }
    }
}

#[test]
fn preset_none() {
    table(Normalization::None, &[(" Ada@Example.com ", Ok(" Ada@Example.com ")), ("\u{a0}", Ok("\u{a0}"))]);
}

#[test]
fn preset_trim() {
    table(
        Normalization::Trim,
        &[
            ("  ada  ", Ok("ada")),
            ("\t\r\nada\n", Ok("ada")),
            ("\u{a0}ada\u{a0}", Ok("ada")),                     // no-break space
            ("\u{2003}ada\u{2003}", Ok("ada")),                 // em space
            ("\u{3000}ada\u{205f}\u{85}", Ok("ada")),           // ideographic space, NEL
            ("a d\u{a0}a", Ok("a d\u{a0}a")),                   // inside: kept
            ("\u{200b}ada\u{feff}", Ok("\u{200b}ada\u{feff}")), // zero-width: not white space
            ("Ada", Ok("Ada")),
            (" \u{a0}\u{2003} ", Ok("")),
        ],
    );
}

#[test]
fn preset_lowercase() {
    table(
        Normalization::Lowercase,
        &[
            ("ADA@EXAMPLE.COM", Ok("ada@example.com")),
            ("already lower", Ok("already lower")),
            (" Ada ", Ok(" ada ")),              // no trimming
            ("İSTANBUL", Ok("i\u{307}stanbul")), // Turkish dotted capital I: i + U+0307
            ("ISPARTA", Ok("isparta")),          // no locale: I is i, not ı
            ("ıi", Ok("ıi")),
            ("STRAẞE", Ok("straße")), // capital sharp s
            ("Straße", Ok("straße")), // ß stays (no case folding to ss)
            ("ÄÖÜ", Ok("äöü")),
            ("ΟΔΟΣ", Ok("οδος")), // final sigma
            ("ÅNGSTRÖM", Ok("ångström")),
        ],
    );
}

#[test]
fn preset_email() {
    table(
        Normalization::Email,
        &[
            ("ada@example.com", Ok("ada@example.com")),
            ("  Ada.Lovelace+news@Example.COM\u{a0}", Ok("ada.lovelace+news@example.com")), // no Gmail rules
            ("\u{2003}JÜRGEN@BEISPIEL.DE\n", Ok("jürgen@beispiel.de")),
            ("\u{3000}", Ok("")),
        ],
    );
}

#[test]
fn preset_phone_digits() {
    table(
        Normalization::PhoneDigits,
        &[
            ("4915123456789", Ok("4915123456789")),
            ("+49 (151) 234-567.89", Ok("4915123456789")),
            ("0049 151 23456789", Ok("004915123456789")), // no country logic
            ("+1 650-CALL-NOW", Ok("1650")),
            ("١٢٣ 45", Ok("45")), // Arabic-Indic digits are not ASCII digits
            ("n/a", Ok("")),
            ("", Ok("")),
        ],
    );
}

#[test]
fn preset_phone_e164() {
    use PhoneProblem::*;
    table(
        Normalization::PhoneE164,
        &[
            ("+16502531234", Ok("+16502531234")),
            ("+1 (650) 253-1234", Ok("+16502531234")),
            ("  +49 151 2345 6789 ", Ok("+4915123456789")),
            ("0049 151 23456789", Ok("+4915123456789")),
            ("00 49-151/234.567.89", Ok("+4915123456789")),
            ("+44 (0)20 7946 0958", Ok("+442079460958")), // trunk prefix dropped
            ("0044 (0) 20 7946 0958", Ok("+442079460958")),
            ("(+49) 30 1234567", Ok("+49301234567")),
            ("+49\u{a0}30\u{2009}1234567", Ok("+49301234567")), // Unicode spaces
            ("+49\u{2013}30\u{2212}1234567", Ok("+49301234567")), // en dash, minus sign
            ("+290 1234", Ok("+2901234")),                      // 7 digits: Saint Helena
            ("+123456789012345", Ok("+123456789012345")),       // 15 digits
            ("   ", Ok("")),
            ("-", Ok("")),
            ("+", Ok("")),
            ("6502531234", Err(NoCountryCode)),
            ("0151 2345678", Err(NoCountryCode)),
            ("(0)151 2345678", Err(NoCountryCode)),
            ("+1 650 FLOWERS", Err(InvalidCharacter)),
            ("+1 650 253 1234 ext 5", Err(InvalidCharacter)),
            ("+49 151 2345678#", Err(InvalidCharacter)),
            ("+49 151 +2345678", Err(InvalidCharacter)),
            ("tel:+4915123456789", Err(InvalidCharacter)),
            ("+0049 151 2345678", Err(CountryCodeZero)),
            ("000 49 151 2345678", Err(CountryCodeZero)),
            ("+49 123", Err(TooShort)),
            ("+1234567890123456", Err(TooLong)),
        ],
    );
}

#[test]
fn phone_e164_values_are_hashed_in_e164_form() {
    let field = settings(Sha256, Normalization::PhoneE164);
    let want = Sha256.hash_hex(b"+16502531234", &mut [0; 128]).unwrap().to_owned();
    for written in ["+1 (650) 253-1234", "001 650 253 1234", "+16502531234"] {
        assert_eq!(one(field, true, text(written)), Ok(Got::Str(want.clone())), "{written}");
    }
    // An integer column holding a phone number is hashed as its digits, which carry no `+`.
    assert!(one(field, true, WarehouseValue::Int(16502531234)).unwrap_err().contains("no country code"));
    assert_eq!(one(settings(Sha256, Normalization::PhoneDigits), true, WarehouseValue::Int(16502531234)), {
        Ok(Got::Str(Sha256.hash_hex(b"16502531234", &mut [0; 128]).unwrap().to_owned()))
    });
}

#[test]
fn phone_errors_do_not_quote_the_value() {
    let err = one(settings(Sha256, Normalization::PhoneE164), true, text("+1 555 SECRET")).unwrap_err();
    assert!(!err.contains("SECRET") && !err.contains("555"), "{err}");
}

// ---- Plans and batches -----------------------------------------------------------------------

#[test]
fn plan_errors() {
    let stat = FieldSettings { is_static: true, ..FieldSettings::default() };
    let plain = FieldSettings::default();
    let err = |specs: &[FieldSpec]| FieldPlan::compile(specs, true).unwrap_err();
    assert_eq!(err(&[column("a", plain, 0), column("a", plain, 1)]), PlanError::DuplicateField("a".to_owned()));
    assert_eq!(err(&[column("org", stat, 0)]), PlanError::StaticMappedToColumn("org".to_owned()));
    assert_eq!(
        err(&[FieldSpec::new("org", plain, Source::Static("acme".into()))]),
        PlanError::LiteralForNonStatic("org".to_owned())
    );
    assert!(err(&[column("org", stat, 0)]).to_string().contains("not a column"));
    // A static field left without a literal is unmapped: missing, or failing when required.
    let plan = FieldPlan::compile(&[FieldSpec::new("org", stat, Source::Unmapped)], true).unwrap();
    assert_eq!(plan.names().collect::<Vec<_>>(), ["org"]);
    assert!(plan.hash_pii());
}

#[test]
fn a_failed_record_leaves_the_batch_as_it_was_and_the_batch_goes_on() {
    let specs = [column("email", required(hashed(Sha256)), 0), column("id", FieldSettings::default(), 1)];
    let plan = FieldPlan::compile(&specs, true).unwrap();
    let mut batch = RecordBatch::new(plan.width());
    let mut scratch = Scratch::default();
    let rows: [[WarehouseValue<'_>; 2]; 4] = [
        [text("ada@example.com"), WarehouseValue::Int(1)],
        [text(SHA256_ABC), WarehouseValue::Int(2)],
        [WarehouseValue::Null, WarehouseValue::Int(3)],
        [text("abc"), WarehouseValue::Int(4)],
    ];
    let outcomes: Vec<bool> = rows.iter().map(|r| plan.process(r, &mut batch, &mut scratch).is_ok()).collect();
    assert_eq!(outcomes, [true, false, false, true]);
    assert_eq!(batch.len(), 2);
    assert_eq!(got(batch.get(0, 0)), s(SHA256_ADA));
    assert_eq!(got(batch.get(0, 1)), Got::Int(1));
    assert_eq!(got(batch.get(1, 0)), s(SHA256_ABC));
    assert_eq!(got(batch.get(1, 1)), Got::Int(4));
}

#[test]
fn rows_of_owned_values_and_json_samples() {
    let plan =
        FieldPlan::compile(&[column("a", FieldSettings::default(), 0), column("b", hashed(Sha256), 1)], true).unwrap();
    let mut batch = RecordBatch::new(plan.width());
    let mut scratch = Scratch::default();
    let owned = vec![OwnedValue::Int(7), OwnedValue::Text("abc".into())];
    plan.process(&owned, &mut batch, &mut scratch).unwrap();
    // A preview sample record: JSON values keyed by field, in slot order.
    let sample = [json!(18446744073709551615u64), json!("abc")];
    let row: Vec<WarehouseValue<'_>> = sample.iter().map(WarehouseValue::from).collect();
    plan.process(&row, &mut batch, &mut scratch).unwrap();
    assert_eq!(got(batch.get(0, 0)), Got::Int(7));
    assert_eq!(got(batch.get(1, 0)), Got::UInt(u64::MAX));
    assert_eq!(got(batch.get(1, 1)), s(SHA256_ABC));
}

#[test]
fn end_to_end_through_a_template() {
    let template = Template::compile(
        r#"{ "audienceId": $$.connection.audienceId, "users": [$$.records.{
            "email": email, "vip": vip, "id": id, "score": score, "org": org, "addr": addr.city }] }"#,
    )
    .unwrap();
    let names: Vec<&str> = template.fields().iter().map(|f| f.name.as_str()).collect();
    let index = |n: &str| names.iter().position(|&x| x == n).unwrap();
    let mut specs: Vec<FieldSpec> = names
        .iter()
        .map(|&name| match name {
            "email" => column(name, required(settings(Sha256, Normalization::Email)), 0),
            "org" => fixed(name, FieldSettings::default(), "acme"),
            "vip" => column(name, FieldSettings::default(), 1),
            "id" => column(name, FieldSettings::default(), 2),
            "score" => column(name, FieldSettings::default(), 3),
            _ => column(name, FieldSettings::default(), 4),
        })
        .collect();
    specs.sort_by_key(|spec| index(&spec.name));
    let plan = FieldPlan::compile(&specs, true).unwrap();
    let mut batch = RecordBatch::new(plan.width());
    let mut scratch = Scratch::default();
    let addr = json!({"city": "Berlin"});
    let rows = [
        [
            text("ADA@example.com "),
            WarehouseValue::Bool(false),
            WarehouseValue::Int(9_007_199_254_740_993),
            WarehouseValue::Float(0.5),
            WarehouseValue::Json(&addr),
        ],
        [text("abc"), WarehouseValue::Null, WarehouseValue::Numeric("12.5"), text(""), WarehouseValue::Null],
    ];
    for row in &rows {
        plan.process(row, &mut batch, &mut scratch).unwrap();
    }
    let connection = Connection { audience_id: "42".into(), audience_name: "VIP".into() };
    let mut out = Vec::new();
    template.render(&batch, &connection, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            r#"{{"audienceId":"42","users":[{{"email":"{SHA256_ADA}","vip":false,"id":9007199254740993,"score":0.5,"org":"acme","addr":"Berlin"}},{{"email":"{SHA256_ABC}","id":12.5,"org":"acme"}}]}}"#
        )
    );
}

// ---- Determinism -------------------------------------------------------------------------------

mod determinism {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    fn value() -> impl Strategy<Value = OwnedValue> {
        prop_oneof![
            Just(OwnedValue::Null),
            any::<i64>().prop_map(OwnedValue::Int),
            any::<f64>().prop_map(OwnedValue::Float),
            any::<bool>().prop_map(OwnedValue::Bool),
            "[ \u{a0}+0-9()A-Za-z@.ßİΣ-]{0,20}".prop_map(OwnedValue::Text),
            "[0-9a-fA-F]{32}|[0-9a-fA-F]{64}".prop_map(OwnedValue::Text),
            "-?[0-9]{1,25}(\\.[0-9]{1,20})?".prop_map(OwnedValue::Numeric),
            Just(OwnedValue::Json(json!({"k": [1, "v"]}))),
            Just(OwnedValue::Bytes(vec![1, 2])),
        ]
    }

    fn field_settings() -> impl Strategy<Value = FieldSettings> {
        use Normalization::*;
        (
            any::<bool>(),
            prop_oneof![Just(HashAlgorithm::None), Just(Sha256), Just(Sha512), Just(Md5)],
            prop_oneof![Just(None), Just(Trim), Just(Lowercase), Just(Email), Just(PhoneDigits), Just(PhoneE164)],
        )
            .prop_map(|(required, hash, normalize)| FieldSettings {
                required,
                is_static: false,
                hash,
                normalize,
            })
    }

    fn slots(batch: &RecordBatch, record: usize) -> Vec<Got> {
        (0..batch.width()).map(|f| got(batch.get(record, f))).collect()
    }

    proptest! {
        // Fixed seed: CI never goes red by luck (docs/design/style.md); a failure prints its case.
        #![proptest_config(Config { cases: 512, rng_seed: RngSeed::Fixed(0x5EED_F1E1D5), failure_persistence: None, ..Config::default() })]

        #[test]
        fn the_same_record_always_yields_the_same_slots(
            fields in proptest::collection::vec(field_settings(), 1..6),
            row in proptest::collection::vec(value(), 6),
            other in proptest::collection::vec(value(), 6),
            hash_pii in any::<bool>(),
        ) {
            let specs: Vec<FieldSpec> =
                fields.iter().enumerate().map(|(i, s)| column(&format!("f{i}"), *s, i)).collect();
            let plan = FieldPlan::compile(&specs, hash_pii).unwrap();
            let mut batch = RecordBatch::new(plan.width());
            let mut scratch = Scratch::default();
            let first = plan.process(&row, &mut batch, &mut scratch);
            // Another record in between, through the same scratch buffers.
            let _ = plan.process(&other, &mut batch, &mut scratch);
            let second = plan.process(&row, &mut batch, &mut scratch);
            // And a fresh plan, batch and scratch.
            let mut fresh = RecordBatch::new(plan.width());
            let third = FieldPlan::compile(&specs, hash_pii).unwrap().process(&row, &mut fresh, &mut Scratch::default());
            prop_assert_eq!(&first, &second);
            prop_assert_eq!(&first, &third);
            if first.is_ok() {
                let last = batch.len() - 1;
                prop_assert_eq!(slots(&batch, 0), slots(&batch, last));
                prop_assert_eq!(slots(&batch, 0), slots(&fresh, 0));
            }
        }
    }
}
