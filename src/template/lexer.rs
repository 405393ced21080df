//! The JSONata lexer: the whole token set of the reference (jsonata-js `parser.js`,
//! `tokenizer()`), so that the parser can recognise, and the checker name, every construct a
//! template may not use.
//!
//! Hand-written over bytes. Every character the lexer branches on is ASCII, and a byte below
//! 0x80 never occurs inside a multi-byte UTF-8 sequence, so every offset the lexer stops at is
//! a character boundary.
//!
//! The scanning order is the reference's: whitespace, comments, a regular expression (only where
//! an operand is expected), two-character operators, one-character operators, strings, numbers,
//! backtick names, and finally names, variables and keywords. Because `-` is an operator before
//! it could start a number, there are no negative number tokens; the parser folds `-1`.
//!
//! Lexical errors do not stop the lexer: each is recorded as a [`Diagnostic`] and a token is
//! still produced (a string with a bad escape still ends at its closing quote), so one bad
//! escape is one diagnostic. A token that cannot be used at all (`!` or `~` alone, a broken
//! regular expression) becomes [`TokenKind::Invalid`] once its error is recorded; the parser
//! treats it as an error it must not report again.

use super::diagnostic::{Code, Diagnostic};
use super::span::Span;

/// What the parser expects at the next token. It decides one ambiguity: `/` where an operand is
/// expected starts a regular expression; where an operator is expected it is division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// An operand: `/` starts a regular expression.
    Operand,
    /// An operator: `/` is division.
    Operator,
}

/// Operator and punctuation tokens, including the keyword operators `and`, `or`, `in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `@`
    At,
    /// `#`
    Hash,
    /// `;`
    Semicolon,
    /// `:`
    Colon,
    /// `?`
    Question,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `**`
    StarStar,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `|`
    Pipe,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `^`
    Caret,
    /// `&`
    Amp,
    /// `:=`
    Bind,
    /// `~>`
    Apply,
    /// `?:`
    Elvis,
    /// `??`
    Coalesce,
    /// `and`
    And,
    /// `or`
    Or,
    /// `in`
    In,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Dot => ".",
            Op::DotDot => "..",
            Op::LBracket => "[",
            Op::RBracket => "]",
            Op::LBrace => "{",
            Op::RBrace => "}",
            Op::LParen => "(",
            Op::RParen => ")",
            Op::Comma => ",",
            Op::At => "@",
            Op::Hash => "#",
            Op::Semicolon => ";",
            Op::Colon => ":",
            Op::Question => "?",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Star => "*",
            Op::StarStar => "**",
            Op::Slash => "/",
            Op::Percent => "%",
            Op::Pipe => "|",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Caret => "^",
            Op::Amp => "&",
            Op::Bind => ":=",
            Op::Apply => "~>",
            Op::Elvis => "?:",
            Op::Coalesce => "??",
            Op::And => "and",
            Op::Or => "or",
            Op::In => "in",
        }
    }

    /// Whether this token closes a bracketed construct.
    pub fn is_closer(self) -> bool {
        matches!(self, Op::RParen | Op::RBracket | Op::RBrace)
    }

    /// Whether this token opens a bracketed construct.
    pub fn is_opener(self) -> bool {
        matches!(self, Op::LParen | Op::LBracket | Op::LBrace)
    }
}

/// The kind of a token, with its decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// A field name: unquoted, or written in backticks (`backtick`).
    Name {
        /// The name, backticks removed.
        name: String,
        /// Written in backticks (`` `first name` ``).
        backtick: bool,
    },
    /// `$name`: the name without the `$` (`$` is `""`, `$$` is `"$"`).
    Variable(String),
    /// A string literal, escapes decoded.
    String(String),
    /// A number literal, unsigned (`-` is always an operator token).
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`
    Null,
    /// `/pattern/flags`, flags being any of `i` and `m`.
    Regex {
        /// The text between the slashes.
        pattern: String,
        /// The flags after the closing slash, possibly empty.
        flags: String,
    },
    /// An operator or punctuation token.
    Op(Op),
    /// A token whose error is already recorded and that stands for nothing: `!` or `~` not
    /// starting `!=` or `~>` (S0204), an empty or unterminated regular expression (S0301, S0302).
    Invalid,
    /// The end of the input (an empty span at the end).
    Eof,
}

/// A token and its byte span in the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What the token is, with its decoded value.
    pub kind: TokenKind,
    /// The token's source text (for a string, quotes included).
    pub span: Span,
}

impl Token {
    /// Whether this token completes an operand, so that what follows is an operator (the
    /// reference's rule for `/` after a name, a literal or a closing bracket).
    pub fn ends_operand(&self) -> bool {
        match &self.kind {
            TokenKind::Op(op) => op.is_closer(),
            TokenKind::Invalid | TokenKind::Eof => false,
            _ => true,
        }
    }
}

/// Whitespace is exactly space, tab, LF, CR and vertical tab, as in the reference: a form feed
/// or a no-break space is part of a name.
fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B)
}

/// The single-character operator table of the reference (which includes `!` and `~`: they stop
/// a name even though neither is an operator by itself).
fn single_char_op(b: u8) -> Option<Result<Op, char>> {
    let op = match b {
        b'.' => Op::Dot,
        b'[' => Op::LBracket,
        b']' => Op::RBracket,
        b'{' => Op::LBrace,
        b'}' => Op::RBrace,
        b'(' => Op::LParen,
        b')' => Op::RParen,
        b',' => Op::Comma,
        b'@' => Op::At,
        b'#' => Op::Hash,
        b';' => Op::Semicolon,
        b':' => Op::Colon,
        b'?' => Op::Question,
        b'+' => Op::Plus,
        b'-' => Op::Minus,
        b'*' => Op::Star,
        b'/' => Op::Slash,
        b'%' => Op::Percent,
        b'|' => Op::Pipe,
        b'=' => Op::Eq,
        b'<' => Op::Lt,
        b'>' => Op::Gt,
        b'^' => Op::Caret,
        b'&' => Op::Amp,
        b'!' => return Some(Err('!')),
        b'~' => return Some(Err('~')),
        _ => return None,
    };
    Some(Ok(op))
}

/// The two-character operators, tried before the single-character ones.
fn two_char_op(a: u8, b: u8) -> Option<Op> {
    Some(match (a, b) {
        (b'.', b'.') => Op::DotDot,
        (b':', b'=') => Op::Bind,
        (b'!', b'=') => Op::Ne,
        (b'>', b'=') => Op::Ge,
        (b'<', b'=') => Op::Le,
        (b'*', b'*') => Op::StarStar,
        (b'~', b'>') => Op::Apply,
        (b'?', b':') => Op::Elvis,
        (b'?', b'?') => Op::Coalesce,
        _ => return None,
    })
}

/// Whether `b` ends an unquoted name: whitespace or a single-character operator. Quotes, `$`
/// and backticks do not.
fn ends_name(b: u8) -> bool {
    is_whitespace(b) || single_char_op(b).is_some()
}

/// The lexer. Tokens are produced on demand, because only the parser knows whether an operand
/// is expected (see [`Expect`]).
#[derive(Debug)]
pub struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    ran_off_end: bool,
}

impl<'s> Lexer<'s> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'s str) -> Lexer<'s> {
        Lexer { src, pos: 0, diagnostics: Vec::new(), ran_off_end: false }
    }

    /// The lexical diagnostics recorded so far, in source order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Takes the recorded diagnostics.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Whether an unterminated string, backtick name, comment or regular expression consumed
    /// the rest of the input. A parser then knows that the early end is already explained.
    pub fn ran_off_end(&self) -> bool {
        self.ran_off_end
    }

    fn bytes(&self) -> &'s [u8] {
        self.src.as_bytes()
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes().get(self.pos + ahead).copied()
    }

    fn error(&mut self, code: Code, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(code, span, message));
    }

    /// Records an error that consumed the rest of the input.
    fn error_to_end(&mut self, code: Code, start: usize, message: &str, hint: &str) {
        self.pos = self.src.len();
        self.ran_off_end = true;
        let span = Span::new(start, self.src.len());
        self.diagnostics.push(Diagnostic::error(code, span, message).with_hint(hint));
    }

    /// The next token. `expect` says whether an operand is expected, which decides whether `/`
    /// starts a regular expression.
    pub fn next_token(&mut self, expect: Expect) -> Token {
        self.skip_trivia();
        let start = self.pos;
        let Some(b) = self.peek(0) else {
            return self.token(TokenKind::Eof, start);
        };
        if b == b'/' && expect == Expect::Operand {
            return self.regex();
        }
        if let Some(op) = self.peek(1).and_then(|b2| two_char_op(b, b2)) {
            self.pos += 2;
            return self.token(TokenKind::Op(op), start);
        }
        if let Some(op) = single_char_op(b) {
            self.pos += 1;
            return match op {
                Ok(op) => self.token(TokenKind::Op(op), start),
                Err(c) => self.unknown(c, start),
            };
        }
        match b {
            b'"' | b'\'' => self.string(b),
            b'0'..=b'9' => self.number(),
            b'`' => self.backtick_name(),
            _ => self.name(),
        }
    }

    fn token(&self, kind: TokenKind, start: usize) -> Token {
        Token { kind, span: Span::new(start, self.pos) }
    }

    /// Skips whitespace and `/* ... */` comments (not nested; between any two tokens).
    fn skip_trivia(&mut self) {
        loop {
            while self.peek(0).is_some_and(is_whitespace) {
                self.pos += 1;
            }
            if self.peek(0) != Some(b'/') || self.peek(1) != Some(b'*') {
                return;
            }
            let start = self.pos;
            match self.src[start + 2..].find("*/") {
                Some(at) => self.pos = start + 2 + at + 2,
                None => {
                    let hint = "close the comment with `*/`";
                    self.error_to_end(Code::UnterminatedComment, start, "unterminated comment", hint);
                    return;
                }
            }
        }
    }

    fn unknown(&mut self, c: char, start: usize) -> Token {
        let (message, hint) = match c {
            '!' => ("`!` is not an operator", "inequality is written `!=`"),
            _ => ("`~` is not an operator", "function chaining is written `~>`"),
        };
        let span = Span::new(start, self.pos);
        self.diagnostics.push(Diagnostic::error(Code::UnknownOperator, span, message).with_hint(hint));
        self.token(TokenKind::Invalid, start)
    }

    /// A regular expression `/pattern/flags`, scanned as the reference scans it: a `/` closes
    /// it only outside `( [ {` groups and when not escaped by an odd number of backslashes.
    fn regex(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let pattern_start = self.pos;
        let bytes = self.bytes();
        let mut depth: i64 = 0;
        while let Some(&b) = bytes.get(self.pos) {
            let escaped = self.pos > 0 && bytes[self.pos - 1] == b'\\';
            if b == b'/' && depth == 0 && self.closing_slash() {
                return self.finish_regex(start, pattern_start);
            }
            match b {
                b'(' | b'[' | b'{' if !escaped => depth += 1,
                b')' | b']' | b'}' if !escaped => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        let hint = "close the regular expression with `/`";
        self.error_to_end(Code::UnterminatedRegex, start, "unterminated regular expression", hint);
        self.token(TokenKind::Invalid, start)
    }

    /// Whether the `/` at `pos` is preceded by an even number of backslashes.
    fn closing_slash(&self) -> bool {
        let before = &self.bytes()[..self.pos];
        let backslashes = before.iter().rev().take_while(|&&b| b == b'\\').count();
        backslashes % 2 == 0
    }

    fn finish_regex(&mut self, start: usize, pattern_start: usize) -> Token {
        let pattern = self.src[pattern_start..self.pos].to_string();
        self.pos += 1;
        let flags_start = self.pos;
        while matches!(self.peek(0), Some(b'i' | b'm')) {
            self.pos += 1;
        }
        if pattern.is_empty() {
            let span = Span::new(start, flags_start);
            self.error(Code::EmptyRegex, span, "empty regular expression");
            return self.token(TokenKind::Invalid, start);
        }
        let flags = self.src[flags_start..self.pos].to_string();
        self.token(TokenKind::Regex { pattern, flags }, start)
    }

    /// A string literal in `"` or `'`. Raw newlines and tabs are allowed inside; `\'` is not an
    /// escape. A bad escape is recorded and skipped, and the string goes on.
    fn string(&mut self, quote: u8) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let rest = &self.src[self.pos..];
            // Copy the run up to the next quote or backslash in one go.
            let run = rest.bytes().position(|b| b == quote || b == b'\\').unwrap_or(rest.len());
            value.push_str(&rest[..run]);
            self.pos += run;
            match self.peek(0) {
                None => {
                    let hint = "close the string with its opening quote";
                    self.error_to_end(Code::UnterminatedString, start, "unterminated string literal", hint);
                    return self.token(TokenKind::String(value), start);
                }
                Some(b'\\') => self.escape(&mut value),
                Some(_) => {
                    self.pos += 1;
                    return self.token(TokenKind::String(value), start);
                }
            }
        }
    }

    /// One escape sequence at `pos` (a backslash), appended to `value`.
    fn escape(&mut self, value: &mut String) {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.src[self.pos..].chars().next() else {
            return; // a backslash at the end: the string is unterminated, reported by the caller
        };
        self.pos += c.len_utf8();
        let decoded = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.unicode_escape(start, value),
            _ => {
                let span = Span::new(start, self.pos);
                let message = format!("unsupported escape sequence `\\{c}`");
                let hint = match c {
                    '\'' => {
                        "`\\'` is not an escape: write the quote as it is inside `\"...\"`, \
                             or use `\\u0027`"
                    }
                    _ => "the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX",
                };
                self.diagnostics.push(Diagnostic::error(Code::UnsupportedEscape, span, message).with_hint(hint));
                return;
            }
        };
        value.push(decoded);
    }

    /// Four hex digits after `\u` (at `pos`), as the reference reads them: one UTF-16 code unit.
    fn hex4(&self, at: usize) -> Option<u16> {
        let digits = self.bytes().get(at..at + 4)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        // Four ASCII hex digits: valid UTF-8 and a valid u16.
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    /// `\uXXXX` whose backslash is at `start` and whose `u` has been consumed. A surrogate pair
    /// written as two escapes combines into one character; a lone surrogate cannot be held by a
    /// Rust string, so it is reported (X0133) and replaced by U+FFFD.
    fn unicode_escape(&mut self, start: usize, value: &mut String) {
        let Some(unit) = self.hex4(self.pos) else {
            let digits = self.bytes()[self.pos..].iter().take(4).take_while(|b| b.is_ascii_hexdigit()).count();
            self.pos += digits;
            let span = Span::new(start, self.pos);
            let message = "`\\u` must be followed by four hexadecimal digits";
            self.diagnostics
                .push(Diagnostic::error(Code::InvalidUnicodeEscape, span, message).with_hint("for example `\\u00e9`"));
            return;
        };
        self.pos += 4;
        if let Some(c) = char::from_u32(u32::from(unit)) {
            value.push(c);
            return;
        }
        if (0xD800..0xDC00).contains(&unit) && self.low_surrogate_follows() {
            let low = self.hex4(self.pos + 2).unwrap_or(0);
            self.pos += 6;
            let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
            value.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            return;
        }
        value.push(char::REPLACEMENT_CHARACTER);
        let span = Span::new(start, self.pos);
        let message = format!("`{}` leaves a lone surrogate, which templates cannot hold", &self.src[start..self.pos]);
        let hint = "write a character outside the Basic Multilingual Plane as a surrogate pair of two \
                    escapes, for example `\\uD83D\\uDE00`";
        self.diagnostics.push(Diagnostic::error(Code::LoneSurrogate, span, message).with_hint(hint));
    }

    /// Whether `\uXXXX` with a low surrogate follows at `pos`.
    fn low_surrogate_follows(&self) -> bool {
        self.peek(0) == Some(b'\\')
            && self.peek(1) == Some(b'u')
            && self.hex4(self.pos + 2).is_some_and(|u| (0xDC00..0xE000).contains(&u))
    }

    /// A number by the reference's grammar `(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?`,
    /// converted with Rust's correctly rounded parser (as JavaScript's `parseFloat` rounds).
    fn number(&mut self) -> Token {
        let start = self.pos;
        if self.peek(0) == Some(b'0') {
            self.pos += 1;
        } else {
            self.pos += self.digits_at(self.pos);
        }
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1 + self.digits_at(self.pos + 1);
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            let exponent = self.digits_at(self.pos + 1 + sign);
            if exponent > 0 {
                self.pos += 1 + sign + exponent;
            }
        }
        let text = &self.src[start..self.pos];
        let value = text.parse::<f64>().unwrap_or(f64::INFINITY);
        if !value.is_finite() {
            let span = Span::new(start, self.pos);
            let message = format!("the number `{text}` is out of range");
            let hint = "numbers are doubles: at most about 1.8e308";
            self.diagnostics.push(Diagnostic::error(Code::NumberOutOfRange, span, message).with_hint(hint));
        }
        self.token(TokenKind::Number(value), start)
    }

    /// How many ASCII digits start at byte `at`.
    fn digits_at(&self, at: usize) -> usize {
        self.bytes().get(at..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count())
    }

    /// A name in backticks: any characters up to the next backtick, no escapes.
    fn backtick_name(&mut self) -> Token {
        let start = self.pos;
        let body = start + 1;
        match self.src[body..].find('`') {
            Some(len) => {
                self.pos = body + len + 1;
                let name = self.src[body..body + len].to_string();
                self.token(TokenKind::Name { name, backtick: true }, start)
            }
            None => {
                let name = self.src[body..].to_string();
                let hint = "close the name with a backtick";
                self.error_to_end(Code::UnterminatedName, start, "unterminated backtick name", hint);
                self.token(TokenKind::Name { name, backtick: true }, start)
            }
        }
    }

    /// A name, a variable or a keyword: the longest run up to whitespace or an operator
    /// character. It is never empty: the caller has ruled out every other token start.
    fn name(&mut self) -> Token {
        let start = self.pos;
        let len = self.bytes()[start..].iter().position(|&b| ends_name(b)).unwrap_or(self.src.len() - start);
        self.pos = start + len;
        let text = &self.src[start..self.pos];
        let kind = if let Some(var) = text.strip_prefix('$') {
            TokenKind::Variable(var.to_string())
        } else {
            match text {
                "and" => TokenKind::Op(Op::And),
                "or" => TokenKind::Op(Op::Or),
                "in" => TokenKind::Op(Op::In),
                "true" => TokenKind::Bool(true),
                "false" => TokenKind::Bool(false),
                "null" => TokenKind::Null,
                _ => TokenKind::Name { name: text.to_string(), backtick: false },
            }
        };
        self.token(kind, start)
    }
}

/// Lexes a whole source without a parser, deciding operand positions by the previous token
/// (an operand is expected unless the previous token ends one). For tests and tools; the parser
/// drives the lexer itself.
pub fn tokenize(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer::new(src);
    let mut tokens = Vec::new();
    let mut expect = Expect::Operand;
    loop {
        let token = lexer.next_token(expect);
        if token.kind == TokenKind::Eof {
            break;
        }
        expect = if token.ends_operand() { Expect::Operator } else { Expect::Operand };
        tokens.push(token);
    }
    (tokens, lexer.take_diagnostics())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (tokens, diags) = tokenize(src);
        assert!(diags.is_empty(), "{src}: {diags:?}");
        tokens.into_iter().map(|t| t.kind).collect()
    }

    fn name(s: &str) -> TokenKind {
        TokenKind::Name { name: s.to_string(), backtick: false }
    }

    fn codes(src: &str) -> Vec<&'static str> {
        tokenize(src).1.iter().map(|d| d.code.as_str()).collect()
    }

    fn one_string(src: &str) -> String {
        match kinds(src).as_slice() {
            [TokenKind::String(s)] => s.clone(),
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn whitespace_is_exactly_space_tab_cr_lf_vt() {
        assert_eq!(kinds(" \t\r\n\u{b}a"), vec![name("a")]);
        // form feed and no-break space are name characters
        assert_eq!(kinds("\u{c}a"), vec![name("\u{c}a")]);
        assert_eq!(kinds("a\u{a0}b"), vec![name("a\u{a0}b")]);
    }

    #[test]
    fn comments_are_skipped_and_unterminated_ones_reported() {
        assert_eq!(kinds("/* x */ a /**/ /* y */"), vec![name("a")]);
        let (tokens, diags) = tokenize("a /* open");
        assert_eq!(tokens.len(), 1);
        assert_eq!(diags[0].code, Code::UnterminatedComment);
        assert_eq!(diags[0].span, Span::new(2, 9));
    }

    #[test]
    fn slash_is_a_regex_only_where_an_operand_is_expected() {
        let regex = |p: &str, f: &str| TokenKind::Regex { pattern: p.into(), flags: f.into() };
        assert_eq!(kinds("/ab+c/i"), vec![regex("ab+c", "i")]);
        assert_eq!(kinds("a / b"), vec![name("a"), TokenKind::Op(Op::Slash), name("b")]);
        assert_eq!(kinds("a ~> /x\\/y/mi"), vec![name("a"), TokenKind::Op(Op::Apply), regex("x\\/y", "mi")]);
        // a slash inside a bracket group does not close it
        assert_eq!(kinds("/[/]/"), vec![regex("[/]", "")]);
        assert_eq!(codes("//"), ["S0301"]);
        assert_eq!(codes("/abc"), ["S0302"]);
        // a broken regular expression stands for nothing
        assert_eq!(tokenize("//i").0[0].kind, TokenKind::Invalid);
        assert_eq!(tokenize("/abc").0[0].kind, TokenKind::Invalid);
    }

    #[test]
    fn operators_two_characters_before_one() {
        use Op::*;
        let ops: Vec<_> = ".. := != >= <= ** ~> ?: ?? . [ ] { } ( ) , @ # ; : ? + - * % | = < > ^ &"
            .split(' ')
            .map(|s| match kinds(&format!("a {s}"))[1] {
                TokenKind::Op(op) => op,
                ref other => panic!("{s}: {other:?}"),
            })
            .collect();
        let want = [
            DotDot, Bind, Ne, Ge, Le, StarStar, Apply, Elvis, Coalesce, Dot, LBracket, RBracket, LBrace, RBrace,
            LParen, RParen, Comma, At, Hash, Semicolon, Colon, Question, Plus, Minus, Star, Percent, Pipe, Eq, Lt, Gt,
            Caret, Amp,
        ];
        assert_eq!(ops, want);
        for op in want {
            assert_eq!(kinds(&format!("a {}", op.as_str()))[1], TokenKind::Op(op));
        }
    }

    #[test]
    fn bang_and_tilde_alone_are_unknown_operators() {
        let (tokens, diags) = tokenize("a ! b ~ c");
        assert_eq!(tokens[1].kind, TokenKind::Invalid);
        assert_eq!(tokens[3].kind, TokenKind::Invalid);
        assert_eq!(diags.iter().map(|d| d.code).collect::<Vec<_>>(), [Code::UnknownOperator; 2]);
        assert_eq!(diags[0].span, Span::new(2, 3));
    }

    #[test]
    fn strings_decode_escapes() {
        assert_eq!(one_string(r#""a\"b\\c\/d\b\f\n\r\t""#), "a\"b\\c/d\u{8}\u{c}\n\r\t");
        assert_eq!(one_string(r#"'it"s'"#), "it\"s");
        assert_eq!(one_string("\"raw\ttab\nline\""), "raw\ttab\nline");
        assert_eq!(one_string(r#""\u00e9\u00E9""#), "éé");
        // a surrogate pair written as two escapes is one character
        assert_eq!(one_string(r#""\uD83D\uDE00""#), "😀");
        assert_eq!(one_string("\"😀\""), "😀");
    }

    #[test]
    fn bad_escapes_are_reported_and_the_string_goes_on() {
        let (tokens, diags) = tokenize(r#""a\qb" x"#);
        assert_eq!(tokens[0].kind, TokenKind::String("ab".into()));
        assert_eq!(tokens[1].kind, name("x"));
        assert_eq!(diags[0].code, Code::UnsupportedEscape);
        assert_eq!(diags[0].span, Span::new(2, 4));
        assert_eq!(codes(r#"'it\'s'"#), ["S0103"]);
        assert_eq!(codes(r#""\é""#), ["S0103"]);
        assert_eq!(codes(r#""\u12" "\u123t""#), ["S0104", "S0104"]);
        assert_eq!(tokenize(r#""\u12x""#).1[0].span, Span::new(1, 5));
    }

    #[test]
    fn lone_surrogates_are_reported_at_the_escape() {
        let (tokens, diags) = tokenize(r#""a\uD800b""#);
        assert_eq!(tokens[0].kind, TokenKind::String("a\u{fffd}b".into()));
        assert_eq!(diags[0].code, Code::LoneSurrogate);
        assert_eq!(diags[0].span, Span::new(2, 8));
        assert_eq!(codes(r#""\uDE00""#), ["X0133"]);
        assert_eq!(codes(r#""\uD83D\u0041""#), ["X0133"]);
        assert_eq!(codes(r#""\uD83D\uD83D\uDE00""#), ["X0133"]);
    }

    #[test]
    fn unterminated_strings_span_to_the_end() {
        let (tokens, diags) = tokenize("[\"abc");
        assert_eq!(tokens[1].kind, TokenKind::String("abc".into()));
        assert_eq!(diags[0].code, Code::UnterminatedString);
        assert_eq!(diags[0].span, Span::new(1, 5));
        assert_eq!(codes("\"abc\\"), ["S0101"]);
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        let n = |s: &str| match kinds(s).as_slice() {
            [TokenKind::Number(v)] => *v,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(n("0"), 0.0);
        assert_eq!(n("42"), 42.0);
        assert_eq!(n("2.5"), 2.5);
        assert_eq!(n("1E+3"), 1000.0);
        assert_eq!(n("1.5e-3"), 0.0015);
        assert_eq!(n("9007199254740993"), 9007199254740992.0);
        // `01`, `1.`, `1e` and `0x1F` are several tokens
        assert_eq!(kinds("01"), vec![TokenKind::Number(0.0), TokenKind::Number(1.0)]);
        assert_eq!(kinds("1."), vec![TokenKind::Number(1.0), TokenKind::Op(Op::Dot)]);
        assert_eq!(kinds("1e"), vec![TokenKind::Number(1.0), name("e")]);
        assert_eq!(kinds("0x1F"), vec![TokenKind::Number(0.0), name("x1F")]);
        assert_eq!(kinds("-1"), vec![TokenKind::Op(Op::Minus), TokenKind::Number(1.0)]);
        assert_eq!(codes("1e309"), ["S0102"]);
    }

    #[test]
    fn backtick_names_have_no_escapes() {
        let backtick = |s: &str| TokenKind::Name { name: s.into(), backtick: true };
        assert_eq!(kinds("`first name`"), vec![backtick("first name")]);
        assert_eq!(kinds(r"`a\`"), vec![backtick(r"a\")]);
        let (_, diags) = tokenize("a.`open");
        assert_eq!(diags[0].code, Code::UnterminatedName);
        assert_eq!(diags[0].span, Span::new(2, 7));
    }

    #[test]
    fn names_run_to_whitespace_or_an_operator_character() {
        assert_eq!(kinds("a'b a$b a\"b\" a`b` é _x"), ["a'b", "a$b", "a\"b\"", "a`b`", "é", "_x"].map(name));
        assert_eq!(kinds("x-y"), vec![name("x"), TokenKind::Op(Op::Minus), name("y")]);
        assert_eq!(tokenize("a!b").0[1].kind, TokenKind::Invalid);
    }

    #[test]
    fn variables_keywords_and_values() {
        let var = |s: &str| TokenKind::Variable(s.into());
        assert_eq!(kinds("$ $$ $$$ $x $$records"), vec![var(""), var("$"), var("$$"), var("x"), var("$records")]);
        assert_eq!(
            kinds("and or in true false null"),
            vec![
                TokenKind::Op(Op::And),
                TokenKind::Op(Op::Or),
                TokenKind::Op(Op::In),
                TokenKind::Bool(true),
                TokenKind::Bool(false),
                TokenKind::Null
            ]
        );
        // `function` and `λ` are names; the parser decides whether they start a lambda
        assert_eq!(kinds("function λ")[..], [name("function"), name("λ")]);
    }

    #[test]
    fn spans_are_byte_ranges_on_character_boundaries() {
        let src = "é.\"ü\" /*😀*/ `ß`";
        let (tokens, _) = tokenize(src);
        for t in &tokens {
            assert!(src.is_char_boundary(t.span.start as usize) && src.is_char_boundary(t.span.end as usize));
        }
        assert_eq!(&src[tokens[2].span.range()], "\"ü\"");
        assert_eq!(&src[tokens[3].span.range()], "`ß`");
    }
}
