//! Replays every file of the fuzz corpora (`fuzz/corpus/<target>/`) and of any crash artifacts
//! (`fuzz/artifacts/<target>/`, present after a local fuzz run found something) through the
//! target's body in `audience::fuzzing`, so that a fuzzer finding becomes an ordinary failing
//! test. Every failing file is listed, then the test fails.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A fuzz target's body.
type Body = fn(&[u8]);

/// Each fuzz target (its folder name) and its body.
const TARGETS: &[(&str, Body)] = &[
    ("lex_parse", audience::fuzzing::lex_parse),
    ("check_template", audience::fuzzing::check_template),
    ("compile", audience::fuzzing::compile),
    ("render", audience::fuzzing::render),
    ("render_batch", audience::fuzzing::render_batch),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        // libFuzzer's scratch files (`.tmp*`, `.state`) are not inputs.
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

thread_local! {
    /// The last panic of this thread, as the panic hook formats it (message and location).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `body` on `data`; a panic becomes its message and location. The hook only records on
/// this thread (this file holds one test, so no other test's panics pass through it).
fn replay(body: Body, data: &[u8]) -> Result<(), String> {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()))));
    let result = panic::catch_unwind(AssertUnwindSafe(|| body(data)));
    panic::set_hook(previous);
    result.map_err(|_| LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panicked".into()))
}

#[test]
fn fuzz_corpora_replay() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut failures = Vec::new();
    let mut count = 0;

    for root in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(root)) else {
            assert_ne!(root, "corpus", "no fuzz/corpus folder");
            continue;
        };
        for entry in entries {
            let dir = entry.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let Some(&(_, body)) = TARGETS.iter().find(|(target, _)| *target == name) else {
                failures.push(format!("fuzz/{root}/{name}: no fuzz target of that name"));
                continue;
            };
            for file in files(&dir) {
                let data = std::fs::read(&file).unwrap();
                count += 1;
                if let Err(message) = replay(body, &data) {
                    let shown = file.strip_prefix(&fuzz).unwrap_or(&file).display();
                    failures.push(format!("fuzz/{shown}: {message}"));
                }
            }
        }
    }

    for (target, _) in TARGETS {
        assert!(!files(&fuzz.join("corpus").join(target)).is_empty(), "fuzz/corpus/{target} is missing or empty");
    }
    assert!(failures.is_empty(), "{} of {count} fuzz inputs failed:\n{}", failures.len(), failures.join("\n"));
    println!("replayed {count} fuzz inputs");
}
