//! `GET /explain/CODE`: what the docs (compiled into the binary) say about a diagnostic code,
//! so that each problem on the page links to its explanation without the network.

use super::page::escape_html;

const DOCS: [(&str, &str); 2] = [
    ("docs/templates.md", include_str!("../../docs/templates.md")),
    ("docs/config.md", include_str!("../../docs/config.md")),
];

/// Whether `code` looks like a diagnostic code (a letter and four digits).
pub fn is_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 5 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

/// The lines of the docs that mention `code`: the doc file, the heading the line is under, the
/// line (the language server's hover shows them too).
pub fn mentions(code: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for (file, text) in DOCS {
        let mut heading = "";
        for line in text.lines() {
            if line.starts_with('#') {
                heading = line.trim_start_matches('#').trim();
            } else if line.contains(code) {
                out.push((file, heading, line));
            }
        }
    }
    out
}

/// The lines of the docs that mention `code`, with the heading each is under, as an HTML page.
pub fn page(code: &str) -> String {
    let mut body = String::new();
    for (file, heading, line) in mentions(code) {
        body.push_str(&format!(
            "<section><h2>{} — {}</h2><pre>{}</pre></section>\n",
            escape_html(file),
            escape_html(heading),
            escape_html(line)
        ));
    }
    if body.is_empty() {
        body = format!("<p>The docs do not mention {} yet.</p>", escape_html(code));
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{c}</title>\
         <style>body{{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto}}pre{{white-space:pre-wrap}}</style>\
         </head><body><h1>{c}</h1>\n{body}</body></html>\n",
        c = escape_html(code)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_codes_in_the_docs() {
        assert!(super::is_code("C0101") && !super::is_code("../x") && !super::is_code("c0101"));
        assert!(super::page("C0101").contains("unknown key"));
        assert!(super::page("X0201").contains("docs/templates.md"));
        assert!(super::page("Z9999").contains("do not mention"));
    }
}
