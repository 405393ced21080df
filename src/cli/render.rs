//! `audience render`: evaluates an expression of the subset over a JSON input.

use super::input_file::read_input;
use super::{Format, exit, print_json, stderr_color};
use crate::template::diagnostic::DiagnosticJson;
use crate::template::input::Input;
use crate::template::{Expression, report};
use std::io::Write;
use std::path::PathBuf;

/// Evaluate an expression of the template language over a JSON input.
///
/// Prints the result as compact JSON and a newline, exactly as the reference JSONata's
/// `JSON.stringify` would; prints nothing when the result is undefined. The template profile is
/// not applied: any expression of the subset is accepted.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["template", "expr"])))]
pub struct Args {
    /// A file holding the expression.
    template: Option<PathBuf>,
    /// The expression itself, instead of a file.
    #[arg(short = 'e', long = "expr", value_name = "EXPR")]
    expr: Option<String>,
    /// The JSON input (default: stdin; `-` is stdin). An empty input is undefined.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Print the compiled program instead of evaluating it.
    #[arg(long)]
    disassemble: bool,
}

pub fn run(args: Args) -> i32 {
    let (name, src) = match (&args.expr, &args.template) {
        (Some(expr), _) => ("<expr>".to_string(), expr.clone()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(src) => (path.display().to_string(), src),
            Err(e) => return fail(args.format, "input", &format!("cannot read {}: {e}", path.display())),
        },
        (None, None) => unreachable!("clap requires one of them"),
    };
    let expr = match Expression::compile(&src) {
        Ok(expr) => expr,
        Err(diags) => {
            match args.format {
                Format::Json => {
                    if let Some(d) = report::render_json(&src, &diags).first() {
                        print_json(d);
                    }
                }
                Format::Human => eprint!("{}", report::render_human(&src, &name, &diags, stderr_color())),
            }
            return exit::INVALID;
        }
    };
    if args.disassemble {
        print!("{}", expr.program().disassemble());
        return exit::OK;
    }
    let text = match read_input(args.input.as_deref()) {
        Ok(text) => text,
        Err(e) => return fail(args.format, "input", &e),
    };
    // The input is read straight into the VM's nodes; what that reader leaves (malformed text,
    // rare edge cases) goes through serde_json, which says what is wrong and where.
    let blank = text.trim_matches([' ', '\t', '\n', '\r']).is_empty();
    let fast = if blank { None } else { Input::parse(&text) };
    let input = if blank || fast.is_some() {
        None
    } else {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                let (line, column) = input_position(&text, e.line(), e.column());
                let message =
                    format!("the input is not JSON: {} at line {line} column {column}", describe_json_error(&e));
                return match args.format {
                    Format::Json => {
                        print_json(&DiagnosticJson {
                            line: Some(line as u32),
                            column: Some(column as u32),
                            ..DiagnosticJson::error("input", message)
                        });
                        exit::INVALID
                    }
                    Format::Human => {
                        eprintln!("error: {message}");
                        exit::INVALID
                    }
                };
            }
        }
    };
    let mut out = Vec::new();
    let evaluated = match &fast {
        Some(doc) => expr.evaluate_input(Some(doc), &mut out),
        None => expr.evaluate(input.as_ref(), &mut out),
    };
    match evaluated {
        Ok(defined) => {
            if defined {
                out.push(b'\n');
                let mut stdout = std::io::stdout().lock();
                if stdout.write_all(&out).and_then(|_| stdout.flush()).is_err() {
                    return exit::INVALID;
                }
            }
            exit::OK
        }
        Err(diag) => {
            match args.format {
                Format::Json => {
                    print_json(&diag.to_json(&src));
                }
                Format::Human => eprint!("{}", report::render_human(&src, &name, &[diag], stderr_color())),
            }
            exit::INVALID
        }
    }
}

/// serde_json's position of an error, made 1-based in characters: it reports column 0 when the
/// offending character is a line break, which is the end of the line before.
fn input_position(text: &str, line: usize, column: usize) -> (usize, usize) {
    if column > 0 || line <= 1 {
        return (line.max(1), column.max(1));
    }
    let previous = text.split('\n').nth(line - 2).unwrap_or("");
    (line - 1, previous.trim_end_matches('\r').chars().count() + 1)
}

/// The error without serde_json's own "at line L column C" suffix.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn fail(format: Format, code: &str, message: &str) -> i32 {
    match format {
        Format::Json => print_json(&DiagnosticJson::error(code, message)),
        Format::Human => eprintln!("error: {message}"),
    }
    exit::INVALID
}
