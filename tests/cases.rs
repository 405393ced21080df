//! Data-driven tests of the template front end (lexer, parser, checker, reports), one file per
//! case under `tests/cases/<group>/`, each with an insta snapshot in `tests/snapshots/`:
//!
//! * `rejected/CODE-what.jsonata`: one construct outside the subset (or one lexical or syntax
//!   error); the expression check must give exactly one diagnostic, with the file's code.
//! * `profile/CODE-what.jsonata`: one template-profile rule; every diagnostic has the file's code.
//! * `multi/*.jsonata`: several independent errors, some after a recovered syntax error; each
//!   must be reported once.
//! * `valid/*.jsonata`: valid templates; the snapshot holds their fields (and any warning).
//! * `positions/*.jsonata`: lines and columns after multi-byte characters, tabs, CRLF and lone
//!   CR; the snapshot holds the JSON and the human report.
//! * `expressions/*.jsonata`: valid expressions (not templates), for their disassembly.
//!
//! The compiled programs of every `valid/` template (the product page's sample templates among
//! them), of the example config's templates and of every `expressions/` case are kept as
//! disassembly snapshots, so that what a change to the compiler does to the code shows in review.
//!
//! For every case, the human report and the JSON agree on every line and column. A new case is
//! a new file: `INSTA_UPDATE=always cargo test --test cases` writes its snapshot (read it!).
//! The grammar notes in `grammar/constructs.md` are checked against these files too.

use std::collections::BTreeSet;
use std::path::Path;

use audience::template::diagnostic::DiagnosticJson;
use audience::template::{Checked, Code, Diagnostic, Expression, Template, check_expression, check_template, report};
use serde::Serialize;

/// The diagnostics as the snapshots show them: the one JSON shape every command prints.
fn shown(src: &str, diags: &[Diagnostic]) -> Vec<DiagnosticJson> {
    report::render_json(src, diags)
}

/// A template field as the snapshots show it.
#[derive(Serialize)]
struct Field {
    name: String,
    line: u32,
    column: u32,
    start: u32,
    end: u32,
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The code a case file is named after (`X0102-concatenation.jsonata` → `X0102`).
fn file_code(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.split(['-', '.']).next().unwrap_or_default().to_string()
}

fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.code.as_str()).collect()
}

/// The `line:column` in the header of the human report of each diagnostic equals the JSON's.
fn assert_human_agrees_with_json(src: &str, diags: &[Diagnostic]) {
    for (d, json) in diags.iter().zip(report::render_json(src, diags)) {
        let human = report::render_human(src, "case", std::slice::from_ref(d), false);
        let header = human.lines().find_map(|l| l.split_once("[ case:")).map(|(_, rest)| rest.trim_end_matches(" ]"));
        let want = format!("{}:{}", json.line.unwrap_or(0), json.column.unwrap_or(0));
        assert_eq!(header, Some(want.as_str()), "{}:\n{human}", d.code);
    }
}

/// No two diagnostics name the same construct (one diagnostic per problem, no repeats).
fn assert_no_repeats(diags: &[Diagnostic]) {
    let mut seen = BTreeSet::new();
    for d in diags {
        assert!(seen.insert((d.span.start, d.span.end, d.code.as_str())), "repeated: {d:?}");
    }
}

#[test]
fn rejected() {
    insta::glob!("cases/rejected/*.jsonata", |path| {
        let src = read(path);
        let checked = check_expression(&src);
        assert_eq!(codes(&checked.diagnostics), [file_code(path)], "{}", path.display());
        assert_human_agrees_with_json(&src, &checked.diagnostics);
        insta::assert_json_snapshot!(shown(&src, &checked.diagnostics));
    });
}

#[test]
fn profile() {
    insta::glob!("cases/profile/*.jsonata", |path| {
        let src = read(path);
        let checked = check_template(&src);
        // The subset is fine; only the rule the file is named after is broken.
        assert!(check_expression(&src).diagnostics.is_empty(), "{}", path.display());
        let want = file_code(path);
        assert!(!checked.diagnostics.is_empty(), "{}", path.display());
        assert!(
            codes(&checked.diagnostics).iter().all(|c| *c == want),
            "{}: {:?}",
            path.display(),
            codes(&checked.diagnostics)
        );
        assert_human_agrees_with_json(&src, &checked.diagnostics);
        insta::assert_json_snapshot!(shown(&src, &checked.diagnostics));
    });
}

#[test]
fn multi() {
    insta::glob!("cases/multi/*.jsonata", |path| {
        let src = read(path);
        let checked = check_template(&src);
        assert!(checked.diagnostics.len() >= 3, "{}: {:?}", path.display(), codes(&checked.diagnostics));
        assert_no_repeats(&checked.diagnostics);
        assert_human_agrees_with_json(&src, &checked.diagnostics);
        insta::assert_json_snapshot!(shown(&src, &checked.diagnostics));
    });
}

#[test]
fn valid() {
    insta::glob!("cases/valid/*.jsonata", |path| {
        let src = read(path);
        let checked: Checked = check_template(&src);
        assert!(!checked.has_errors(), "{}: {:?}", path.display(), checked.diagnostics);
        let index = audience::template::span::LineIndex::new(&src);
        let fields: Vec<Field> = checked
            .fields
            .iter()
            .map(|f| {
                let at = index.line_col(f.span.start as usize);
                Field { name: f.name.clone(), line: at.line, column: at.column, start: f.span.start, end: f.span.end }
            })
            .collect();
        let warnings = shown(&src, &checked.diagnostics);
        insta::assert_json_snapshot!(serde_json::json!({ "fields": fields, "warnings": warnings }));
    });
}

#[test]
fn positions() {
    insta::glob!("cases/positions/*.jsonata", |path| {
        let src = read(path);
        let checked = check_expression(&src);
        assert!(!checked.diagnostics.is_empty(), "{}", path.display());
        assert_human_agrees_with_json(&src, &checked.diagnostics);
        let json = serde_json::to_string_pretty(&shown(&src, &checked.diagnostics)).unwrap_or_default();
        let human = report::render_human(&src, "case", &checked.diagnostics, false);
        insta::assert_snapshot!(format!("{json}\n\n{human}"));
    });
}

/// The codes with at least one case file in `group`.
fn covered(group: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(group);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries.filter_map(Result::ok).map(|e| file_code(&e.path())).collect()
}

/// Codes a case file cannot show: the run-time ones (the VM's), and the size limit (a case
/// would be a 64 KiB file; the parser's unit tests cover it).
const NOT_FROM_A_CASE_FILE: &[Code] = &[Code::ArgumentType, Code::KeyNotString, Code::NotANumber, Code::TooLarge];

#[test]
fn every_checking_code_has_a_case_file() {
    let mut have = covered("rejected");
    have.extend(covered("profile"));
    let missing: Vec<_> = Code::ALL
        .iter()
        .filter(|c| !NOT_FROM_A_CASE_FILE.contains(c))
        .map(|c| c.as_str())
        .filter(|c| !have.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a case file: {missing:?}");
    // and the X01/X02 codes in particular, whatever the exceptions say
    for code in Code::ALL.iter().map(|c| c.as_str()).filter(|c| c.starts_with("X01") || c.starts_with("X02")) {
        assert!(have.contains(code), "{code} has no case file");
    }
}

/// One example of `grammar/constructs.md`: the code of its heading (none for allowed
/// constructs) and the text of its `jsonata` block.
struct Example {
    code: Option<String>,
    text: String,
}

fn constructs_md() -> Vec<Example> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar/constructs.md");
    let md = read(&path);
    let mut examples = Vec::new();
    let mut code = None;
    let mut lines = md.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("## ") {
            code = None;
        } else if let Some(heading) = line.strip_prefix("### ") {
            let first = heading.split_whitespace().next().unwrap_or_default();
            let is_code = first.len() == 5 && first[1..].bytes().all(|b| b.is_ascii_digit());
            code = is_code.then(|| first.to_string());
        } else if line == "```jsonata" {
            let text: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            examples.push(Example { code: code.clone(), text: text.join("\n") });
        }
    }
    examples
}

#[test]
fn constructs_md_matches_the_checker_and_the_case_files() {
    let examples = constructs_md();
    let case_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut case_files: Vec<(String, String)> = Vec::new();
    for group in ["rejected", "profile"] {
        for entry in std::fs::read_dir(case_dir.join(group)).into_iter().flatten().flatten() {
            case_files.push((file_code(&entry.path()), read(&entry.path()).trim_end().to_string()));
        }
    }
    for example in &examples {
        match &example.code {
            None => {
                let checked = check_expression(&example.text);
                assert!(checked.diagnostics.is_empty(), "allowed: {:?}: {:?}", example.text, checked.diagnostics);
            }
            Some(code) => {
                let checked = if code.starts_with("X02") {
                    check_template(&example.text)
                } else {
                    check_expression(&example.text)
                };
                assert!(codes(&checked.diagnostics).contains(&code.as_str()), "{code}: {:?}", example.text);
                let is_case = case_files.iter().any(|(c, text)| c == code && *text == example.text);
                assert!(is_case, "{code}: {:?} is not one of its case files", example.text);
            }
        }
    }
    // ... and every case file is in the notes.
    for (code, text) in &case_files {
        let listed = examples.iter().any(|e| e.code.as_deref() == Some(code.as_str()) && e.text == *text);
        assert!(listed, "{code}: case file {text:?} is missing from constructs.md");
    }
    assert!(examples.iter().filter(|e| e.code.is_none()).count() >= 10, "allowed constructs have examples");
}

#[test]
fn disassembly_of_templates() {
    let disassemble = |path: &Path| {
        let src = read(path);
        let template = Template::compile(&src).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        insta::assert_snapshot!(template.program().disassemble());
    };
    insta::glob!("cases/valid/*.jsonata", disassemble);
}

#[test]
fn disassembly_of_the_example_config() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme.toml");
    let report = audience::destination::check_file(&config, audience::destination::EnvMode::Warn);
    let mut seen = 0;
    for (kind, source) in ["add", "update", "remove"].into_iter().zip(&report.checked.templates) {
        let Some(source) = source else { continue };
        let template = Template::compile(&source.text).unwrap_or_else(|d| panic!("{kind}: {d:?}"));
        insta::assert_snapshot!(format!("disassembly_of_the_example_config@{kind}"), template.program().disassemble());
        seen += 1;
    }
    // update uses add's request (`use_add`): two templates.
    assert_eq!(seen, 2, "{report:?}");
}

#[test]
fn disassembly_of_expressions() {
    insta::glob!("cases/expressions/*.jsonata", |path| {
        let src = read(path);
        let expression = Expression::compile(&src).unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
        insta::assert_snapshot!(expression.program().disassemble());
    });
}
