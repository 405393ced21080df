//! The base protocol: each message is a `Content-Length: N` header block, a blank line and N
//! bytes of JSON. Read from the editor's stdin, written to its stdout, nothing else on either.

use std::io::{self, BufRead, Write};

/// The largest message accepted (a header asking for more is a protocol error, not an
/// allocation).
const MAX_MESSAGE: usize = 64 << 20;

/// The next message's body, `None` at the end of the input. A header block without a valid
/// `Content-Length` is an `InvalidData` error: the stream cannot be resynchronised after it.
pub fn read_message(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut length = None;
    let mut line = String::new();
    let mut any = false;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return if any { Err(invalid("the input ended inside a message header")) } else { Ok(None) };
        }
        any = true;
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(invalid(&format!("a header line without `:`: {header:?}")));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n = value.trim().parse::<usize>().map_err(|_| invalid(&format!("Content-Length {value:?}")))?;
            length = Some(n);
        }
    }
    let length = length.ok_or_else(|| invalid("a message without Content-Length"))?;
    if length > MAX_MESSAGE {
        return Err(invalid(&format!("a message of {length} bytes (at most {MAX_MESSAGE})")));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Writes `body` as one message and flushes it.
pub fn write_message(output: &mut impl Write, body: &[u8]) -> io::Result<()> {
    write!(output, "Content-Length: {}\r\n\r\n", body.len())?;
    output.write_all(body)?;
    output.flush()
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_headers_are_errors() {
        let mut out = Vec::new();
        write_message(&mut out, b"{\"a\":\"\xc3\xa9\"}").unwrap();
        write_message(&mut out, b"{}").unwrap();
        let mut input = io::Cursor::new(out);
        assert_eq!(read_message(&mut input).unwrap().unwrap(), b"{\"a\":\"\xc3\xa9\"}");
        assert_eq!(read_message(&mut input).unwrap().unwrap(), b"{}");
        assert!(read_message(&mut input).unwrap().is_none());
        for bad in ["Content-Length: x\r\n\r\n", "Content-Type: a\r\n\r\n{}", "Content-Length: 5\r\n"] {
            let err = read_message(&mut io::Cursor::new(bad.as_bytes().to_vec())).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
    }
}
