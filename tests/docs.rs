//! `docs/templates.md` stays true to the software.
//!
//! - Its table of diagnostics lists every code of [`Code::ALL`] and nothing else, and each
//!   example in the table gives its code.
//! - Every ```` ```render ```` block is a shell session of `audience render -e '...' <<< '...'`
//!   commands, each followed by what it prints; each command is run through [`Expression`] and
//!   must print exactly that.
//! - Every ```` ```cli ```` block is a shell session run against the real binary: `cat FILE`
//!   followed by the file's text writes that file, and `audience ...` must print exactly what
//!   follows it (stderr, then stdout).
//! - The `$number` table gives, for each value of `x`, what `$number(x)` prints.
//!
//! Sessions are parsed as a shell would parse them: a command starts with `$ ` at the start of a
//! line; words are separated by spaces; `'...'` quotes anything (newlines too) and `'\''` is a
//! quote inside a quoted word; `<<< WORD` is the command's stdin (the word and a newline).

use audience::template::{Code, Diagnostic, Expression, check_template, report};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const DOC: &str = "docs/templates.md";

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced blocks whose info string is `info`: the line of the opening fence (1-based) and
/// the text inside, every line ended by a newline.
fn blocks(md: &str, info: &str) -> Vec<(usize, String)> {
    let open = format!("```{info}");
    let mut out = Vec::new();
    let mut lines = md.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        if line == open {
            let mut text = String::new();
            for (_, l) in lines.by_ref().take_while(|(_, l)| *l != "```") {
                text.push_str(l);
                text.push('\n');
            }
            out.push((n + 1, text));
        }
    }
    out
}

/// One command of a session and what it printed.
#[derive(Debug)]
struct Run {
    words: Vec<String>,
    stdin: Option<String>,
    output: String,
}

/// Splits a session into commands (see the module docs for the syntax).
fn session(text: &str) -> Vec<Run> {
    let chars: Vec<char> = text.chars().collect();
    let mut runs = Vec::new();
    let mut i = 0;
    assert!(text.starts_with("$ "), "a session starts with a command: {text:?}");
    while i < chars.len() {
        // `$ ` at the start of a line
        i += 2;
        let mut words = Vec::new();
        let mut stdin = None;
        let mut expect_stdin = false;
        loop {
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if i >= chars.len() || chars[i] == '\n' {
                i += 1;
                break;
            }
            let mut word = String::new();
            while i < chars.len() && chars[i] != ' ' && chars[i] != '\n' {
                match chars[i] {
                    '\'' => {
                        i += 1;
                        while chars.get(i) != Some(&'\'') {
                            word.push(*chars.get(i).unwrap_or_else(|| panic!("unclosed quote in {text:?}")));
                            i += 1;
                        }
                        i += 1;
                    }
                    '\\' => {
                        word.push(chars[i + 1]);
                        i += 2;
                    }
                    c => {
                        word.push(c);
                        i += 1;
                    }
                }
            }
            if expect_stdin {
                stdin = Some(format!("{word}\n"));
                expect_stdin = false;
            } else if word == "<<<" {
                expect_stdin = true;
            } else {
                words.push(word);
            }
        }
        let mut output = String::new();
        while i < chars.len() && !(chars[i] == '$' && chars.get(i + 1) == Some(&' ')) {
            let end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p + 1);
            output.extend(&chars[i..end]);
            i = end;
        }
        runs.push(Run { words, stdin, output });
    }
    runs
}

/// What `audience render -e EXPR [--format json]` prints for `input` (stdout and stderr
/// together), computed with the library as the command computes it.
fn render(expr: &str, json: bool, input: &str) -> String {
    fn error_json(d: audience::template::diagnostic::DiagnosticJson) -> String {
        serde_json::to_string_pretty(&d).unwrap() + "\n"
    }
    let human = |diags: &[Diagnostic]| report::render_human(expr, "<expr>", diags, false);
    let compiled = match Expression::compile(expr) {
        Ok(e) => e,
        Err(diags) if json => return error_json(report::render_json(expr, &diags).remove(0)),
        Err(diags) => return human(&diags),
    };
    let input = if input.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        None
    } else {
        Some(serde_json::from_str::<serde_json::Value>(input).unwrap_or_else(|e| panic!("input {input:?}: {e}")))
    };
    let mut out = Vec::new();
    match compiled.evaluate(input.as_ref(), &mut out) {
        Ok(true) => String::from_utf8(out).unwrap() + "\n",
        Ok(false) => String::new(),
        Err(d) if json => error_json(d.to_json(expr)),
        Err(d) => human(&[d]),
    }
}

#[test]
fn render_examples_print_what_the_doc_says() {
    let md = doc();
    let mut count = 0;
    for (line, text) in blocks(&md, "render") {
        for run in session(&text) {
            let words: Vec<&str> = run.words.iter().map(String::as_str).collect();
            let (expr, json) = match words.as_slice() {
                ["audience", "render", "-e", expr] => (*expr, false),
                ["audience", "render", "-e", expr, "--format", "json"] => (*expr, true),
                _ => panic!("{DOC}:{line}: not a render command: {words:?}"),
            };
            let input = run.stdin.as_deref().unwrap_or_else(|| panic!("{DOC}:{line}: {expr:?} has no input"));
            let actual = render(expr, json, input);
            assert_eq!(actual, run.output, "{DOC}:{line}: audience render -e {expr:?} <<< {input:?}");
            count += 1;
        }
    }
    assert!(count >= 40, "only {count} render examples");
}

#[test]
fn cli_examples_print_what_the_doc_says() {
    let md = doc();
    let dir = std::env::temp_dir().join(format!("audience-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut count = 0;
    for (line, text) in blocks(&md, "cli") {
        for run in session(&text) {
            match run.words.first().map(String::as_str) {
                Some("cat") => {
                    assert_eq!(run.words.len(), 2, "{DOC}:{line}: {:?}", run.words);
                    std::fs::write(dir.join(&run.words[1]), &run.output).unwrap();
                }
                Some("audience") => {
                    let actual = audience(&dir, &run.words[1..], run.stdin.as_deref());
                    assert_eq!(actual, run.output, "{DOC}:{line}: {:?}", run.words);
                    count += 1;
                }
                _ => panic!("{DOC}:{line}: unknown command {:?}", run.words),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(count >= 3, "only {count} cli examples");
}

/// Runs the binary in `dir` without colours; stderr then stdout.
fn audience(dir: &Path, args: &[String], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audience"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A command that fails before it reads its input may exit before the write (a closed pipe).
    match child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stderr).unwrap() + &String::from_utf8(out.stdout).unwrap()
}

/// The cells of a table row, `\|` unescaped; `None` for a line that is no table row.
fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.strip_prefix('|')?.strip_suffix('|')?;
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => cells.last_mut().unwrap().push(chars.next().unwrap()),
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    Some(cells.into_iter().map(|c| c.trim().to_string()).collect())
}

/// The text of the first code span in `cell` (`` `a` `` or ``` `` `a `` ```).
fn code_span(cell: &str) -> Option<String> {
    let start = cell.find('`')?;
    let ticks = cell[start..].chars().take_while(|&c| c == '`').count();
    let fence = "`".repeat(ticks);
    let body_start = start + ticks;
    let len = cell[body_start..].find(&fence)?;
    let body = &cell[body_start..body_start + len];
    let body = match body.strip_prefix(' ').and_then(|b| b.strip_suffix(' ')) {
        Some(b) if ticks > 1 => b,
        _ => body,
    };
    Some(body.to_string())
}

/// The rows of the table of diagnostics: code and example cell.
fn code_table(md: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for line in md.lines() {
        let Some(cells) = cells(line) else { continue };
        let Some(code) = cells.first().and_then(|c| c.strip_prefix('`')).and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        let is_code = code.len() == 5
            && matches!(&code[..1], "S" | "T" | "D" | "X")
            && code[1..].bytes().all(|b| b.is_ascii_digit());
        if is_code {
            assert_eq!(cells.len(), 3, "{line}");
            rows.push((code.to_string(), cells[2].clone()));
        }
    }
    rows
}

#[test]
fn every_code_is_in_the_table_of_diagnostics() {
    let md = doc();
    let rows = code_table(&md);
    let listed: BTreeSet<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(listed.len(), rows.len(), "a code is listed twice");
    let all: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let missing: Vec<_> = all.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&all).collect();
    assert!(missing.is_empty(), "codes missing from the table in {DOC}: {missing:?}");
    assert!(unknown.is_empty(), "codes in {DOC} that do not exist: {unknown:?}");
    for code in Code::ALL {
        assert!(md.contains(&format!("| `{code}` |")), "{code} is not a row of the table");
    }
}

#[test]
fn every_example_in_the_table_gives_its_code() {
    let md = doc();
    for (code, cell) in code_table(&md) {
        let Some(example) = code_span(&cell) else {
            // described in words: the limits, and a code that cannot occur
            assert!(matches!(code.as_str(), "X0301" | "X0302" | "T1003"), "{code}: no example in {cell:?}");
            continue;
        };
        let codes: Vec<&str> = match code.as_str() {
            // run-time errors: the example compiles and fails when evaluated
            "T0410" | "D3030" => {
                let e = Expression::compile(&example).unwrap_or_else(|d| panic!("{code}: {example:?}: {d:?}"));
                let err = e.evaluate(Some(&serde_json::Value::Null), &mut Vec::new()).expect_err(&example);
                vec![err.code.as_str()]
            }
            _ => check_template(&example).diagnostics.iter().map(|d| d.code.as_str()).collect(),
        };
        assert!(codes.contains(&code.as_str()), "{code}: {example:?} gives {codes:?}");
    }
}

#[test]
fn the_number_table_is_what_number_does() {
    let md = doc();
    let header = "| `x` in the input | `$number(x)` | |";
    let mut lines = md.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "{DOC} has no `$number` table ({header})");
    let rows: Vec<Vec<String>> = lines.skip(1).map_while(cells).collect();
    assert!(rows.len() >= 10, "{rows:?}");
    let e = Expression::compile("$number(x)").unwrap();
    for row in rows {
        let input = match code_span(&row[0]) {
            Some(v) => format!("{{\"x\": {v}}}"),
            None => "{}".to_string(),
        };
        let input: serde_json::Value = serde_json::from_str(&input).unwrap();
        let mut out = Vec::new();
        let actual = match e.evaluate(Some(&input), &mut out) {
            Ok(true) => String::from_utf8(out).unwrap(),
            Ok(false) => "undefined".to_string(),
            Err(d) => d.code.as_str().to_string(),
        };
        let expected = code_span(&row[1]).unwrap_or_else(|| row[1].split_whitespace().next().unwrap().to_string());
        assert_eq!(actual, expected, "{row:?}");
    }
}

#[test]
fn sessions_parse_as_a_shell_parses_them() {
    let runs = session("$ audience render -e '[1, '\\''a'\\'']' <<< '{\"a\": 1}'\n[1,\"a\"]\n$ cat f\nx\n\ny\n");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].words, ["audience", "render", "-e", "[1, 'a']"]);
    assert_eq!(runs[0].stdin.as_deref(), Some("{\"a\": 1}\n"));
    assert_eq!(runs[0].output, "[1,\"a\"]\n");
    assert_eq!(runs[1].words, ["cat", "f"]);
    assert_eq!(runs[1].output, "x\n\ny\n");
    assert_eq!(code_span("`` `abc ``"), Some("`abc".into()));
    assert_eq!(cells("| `a \\| b` | c |"), Some(vec!["`a | b`".to_string(), "c".to_string()]));
}
