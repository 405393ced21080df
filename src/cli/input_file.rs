//! The text of `audience render --input FILE`: a regular file is mapped into memory rather than
//! copied into it. Reading 48 MB copies it into as many freshly zeroed pages of the process, a
//! page fault each; a mapping shares the kernel's cached pages of the file, set up at once
//! (`MAP_POPULATE`), with nothing to zero, copy or free (BENCHMARKS.md, "The JSON input path").
//!
//! Unsafe (`mmap`, `munmap` through libc), allowed in this module alone. The mapping is read
//! only and private; its text is checked to be UTF-8 once, as reading it would. As with any
//! mapped file, the file must not be changed while render runs: a file truncated meanwhile ends
//! the process with SIGBUS, where a read would have seen a shorter file. Anything that cannot
//! be mapped (stdin, a pipe, an empty file, a failed `mmap`) or is not UTF-8 is read as before,
//! so errors keep their wording.
#![allow(unsafe_code)]

use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// The input text: mapped from a file or read into memory.
pub enum InputText {
    /// Read into memory (stdin, or a file that could not be mapped).
    Read(String),
    /// A file mapped into memory.
    #[cfg(unix)]
    Mapped(Mapped),
}

impl Deref for InputText {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            InputText::Read(text) => text,
            #[cfg(unix)]
            InputText::Mapped(mapped) => mapped.text(),
        }
    }
}

/// Reads the input: the file at `path` (mapped when it can be), or stdin for `None` or `-`. The
/// error says what could not be read and why.
pub fn read_input(path: Option<&Path>) -> Result<InputText, String> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            #[cfg(unix)]
            if let Some(mapped) = Mapped::open(p) {
                return Ok(InputText::Mapped(mapped));
            }
            std::fs::read_to_string(p).map(InputText::Read).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        _ => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(InputText::Read(text))
        }
    }
}

/// A whole regular file mapped read-only, its bytes valid UTF-8.
#[cfg(unix)]
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

#[cfg(unix)]
impl Mapped {
    /// Maps the file at `path`; `None` when it is not a non-empty regular file, cannot be
    /// opened or mapped, or is not UTF-8 (the caller reads it then, and reports what is wrong).
    fn open(path: &Path) -> Option<Mapped> {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        let len = usize::try_from(meta.len()).ok()?;
        if !meta.is_file() || len == 0 || len > isize::MAX as usize {
            return None;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = libc::MAP_PRIVATE | libc::MAP_POPULATE;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = libc::MAP_PRIVATE;
        // SAFETY: a fresh read-only private mapping of `len` bytes of an open file (the mapping
        // outlives the descriptor, which may close after); no Rust object lives at the address
        // the kernel picks.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, flags, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        let mapped = Mapped { ptr, len };
        std::str::from_utf8(mapped.bytes()).is_ok().then_some(mapped)
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop` unmaps them; the mapping is never
        // written (read-only) and is borrowed no longer than `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    fn text(&self) -> &str {
        // SAFETY: `open` checked the bytes are UTF-8, and a read-only mapping does not change
        // them (while the file is left alone: the module doc).
        unsafe { std::str::from_utf8_unchecked(self.bytes()) }
    }
}

#[cfg(unix)]
impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `open` made, once; nothing borrows it any more.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}
