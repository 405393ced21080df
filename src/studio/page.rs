//! The page: one HTML document with its style and script inline, so that a single request
//! (with the token) loads everything and the Content-Security-Policy can forbid every other
//! source.

const HTML: &str = include_str!("assets/studio.html");
const CSS: &str = include_str!("assets/studio.css");
const JS: &str = include_str!("assets/studio.js");

/// The page for the config at `name` (shown in the title, HTML-escaped).
pub fn render(name: &str) -> String {
    HTML.replace("/*STYLE*/", CSS).replace("/*SCRIPT*/", JS).replace("{{NAME}}", &escape_html(name))
}

/// Text made safe inside HTML elements and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_holds_its_style_and_script_and_every_hook() {
        let page = super::render("a<b>.toml");
        assert!(!page.contains("/*STYLE*/") && !page.contains("/*SCRIPT*/"));
        assert!(page.contains("a&lt;b&gt;.toml"));
        for role in [
            "action-tab",
            "editor",
            "sample-records",
            "preview-method",
            "preview-url",
            "preview-body",
            "save",
            "status",
            "sample-rows",
            "row-count",
            "refused-rows",
            "dry-run",
            "dry-run-counts",
            "dry-run-text",
            "warehouse-status",
            "warehouse-error",
        ] {
            assert!(page.contains(&format!("data-role=\"{role}\"")), "{role}");
        }
        // Nothing is loaded from elsewhere.
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
