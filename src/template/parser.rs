//! The JSONata parser: recursive descent with precedence climbing (a Pratt loop) over the whole
//! language, with the reference's binding powers (jsonata-js `parser.js`, `operators`).
//!
//! It builds [`Expr`] trees as the reference's `processAST` shapes them: `a.b.c` is one
//! [`ExprKind::Path`]; a string literal used as a path step is a quoted name; a number, `true`,
//! `false` or `null` as a step is S0213; a unary minus on a number literal is folded into the
//! literal (`--1` is `1`).
//!
//! # Errors and recovery
//!
//! Every parse function returns `Err(Stop)` after it has reported its error (or found that an
//! earlier diagnostic already explains it). Object and array constructors, call arguments,
//! blocks, predicates, sort terms and function bodies catch a `Stop` from one item, skip to the
//! next separator or to the closing bracket at the same nesting depth, and go on. A broken item
//! is replaced by a `null` literal with an empty span, so the tree keeps its shape (the number of
//! items and arguments) and the checker neither repeats nor invents an error; such a tree is never
//! compiled, because the parse reported an error. Once an error has been explained by the input
//! ending early, no enclosing construct reports its missing closer again.
//!
//! A closing bracket that is not the innermost open list's own is read in one of three ways
//! (see `Reading`):
//!
//! * it closes a list further out (`{"a": [1, 2}`): the lists inside that one were left open.
//!   One diagnostic names them (the innermost in the message, each with a label at its opener),
//!   they end there without consuming the closer, and the list it belongs to takes it as usual.
//!   No construct that the same closer leaves open reports it again;
//! * it is a stray (`[1}]`): reported and skipped;
//! * it is a typo for the right closer (`[1, 2)`): reported, and it closes the list.
//!
//! The choice is the reading under which the brackets and separators that follow fit the
//! lists still open for longest (up to `LOOKAHEAD` of them, or to the end of the input with
//! every list closed): `{"c": [}, "d": 1}` is a typo, `{"c": [}` leaves the `[` open, `[1}]`
//! is a stray. On a tie, a closer of a list further out closes it, then one right before the
//! innermost list's own closer is a stray, and any other is a typo. Looking ahead a bounded
//! way keeps the parse linear however many closers are wrong.
//!
//! # Limits
//!
//! A source over [`MAX_SOURCE_BYTES`] gets one X0301 and no further work. No construct may be
//! nested more than [`MAX_DEPTH`] levels deep (X0302, which stops the parse). The parser counts
//! both the recursion it is in (so that no input can overflow the stack, whatever its shape) and
//! the height of every node it builds (so that `1+1+1+...`, built by a loop rather than by
//! recursion, cannot make a tree that later passes would overflow the stack walking or dropping).

use super::ast::{BinOp, Expr, ExprKind, Pair, SortTerm};
use super::diagnostic::{Code, Diagnostic};
use super::lexer::{Expect, Lexer, Op, Token, TokenKind};
use super::span::{LineIndex, Span};
use super::{MAX_DEPTH, MAX_SOURCE_BYTES};

/// The parse result: the tree when one could be built, and every diagnostic found.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The tree; `None` after an error the parser could not recover from.
    pub expr: Option<Expr>,
    /// Every lexer and parser diagnostic, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a whole JSONata expression. Never panics and never overflows the stack, whatever the
/// input; diagnostics come out in source order.
pub fn parse(src: &str) -> Parsed {
    if src.len() > MAX_SOURCE_BYTES {
        let message = format!("the template is {} bytes long; at most {MAX_SOURCE_BYTES} bytes are allowed", src.len());
        let diagnostic = Diagnostic::error(Code::TooLarge, Span::new(0, 0), message);
        return Parsed { expr: None, diagnostics: vec![diagnostic] };
    }
    let mut parser = Parser::new(src);
    let expr = parser.top();
    parser.finish(expr)
}

/// Binding power of a token in operator position (the reference's `operators` table). `None`
/// for every token that ends an expression (closers, separators, `..`, `|`, ...).
fn infix_bp(kind: &TokenKind) -> Option<u8> {
    let TokenKind::Op(op) = kind else { return None };
    Some(match op {
        Op::LBracket | Op::LParen | Op::At | Op::Hash => 80,
        Op::Dot => 75,
        Op::LBrace => 70,
        Op::Star | Op::Slash | Op::Percent => 60,
        Op::Plus | Op::Minus | Op::Amp => 50,
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::In => 40,
        Op::Caret | Op::Apply | Op::Elvis | Op::Coalesce => 40,
        Op::And => 30,
        Op::Or => 25,
        Op::Question => 20,
        Op::Bind => 10,
        _ => return None,
    })
}

/// The binary operator an infix token stands for.
fn bin_op(op: Op) -> Option<BinOp> {
    Some(match op {
        Op::Plus => BinOp::Add,
        Op::Minus => BinOp::Sub,
        Op::Star => BinOp::Mul,
        Op::Slash => BinOp::Div,
        Op::Percent => BinOp::Mod,
        Op::Amp => BinOp::Concat,
        Op::Eq => BinOp::Eq,
        Op::Ne => BinOp::Ne,
        Op::Lt => BinOp::Lt,
        Op::Le => BinOp::Le,
        Op::Gt => BinOp::Gt,
        Op::Ge => BinOp::Ge,
        Op::In => BinOp::In,
        Op::And => BinOp::And,
        Op::Or => BinOp::Or,
        Op::Apply => BinOp::Apply,
        Op::Elvis => BinOp::Elvis,
        Op::Coalesce => BinOp::Coalesce,
        _ => return None,
    })
}

/// The tree of a token that is an operand by itself.
fn leaf_kind(kind: &TokenKind) -> Option<ExprKind> {
    Some(match kind {
        TokenKind::Name { name, backtick } => ExprKind::Name { name: name.clone(), quoted: *backtick },
        TokenKind::Variable(name) => ExprKind::Variable(name.clone()),
        TokenKind::String(s) => ExprKind::String(s.clone()),
        TokenKind::Number(n) => ExprKind::Number(*n),
        TokenKind::Bool(b) => ExprKind::Bool(*b),
        TokenKind::Null => ExprKind::Null,
        TokenKind::Regex { pattern, flags } => ExprKind::Regex { pattern: pattern.clone(), flags: flags.clone() },
        // Keyword operators in operand position are field names (`$$.and`, `[or]`).
        TokenKind::Op(op @ (Op::And | Op::Or | Op::In)) => {
            ExprKind::Name { name: op.as_str().to_string(), quoted: false }
        }
        TokenKind::Op(Op::Star) => ExprKind::Wildcard,
        TokenKind::Op(Op::StarStar) => ExprKind::Descendants,
        TokenKind::Op(Op::Percent) => ExprKind::Parent,
        _ => return None,
    })
}

/// The stand-in for an item that failed to parse: a `null` with an empty span (a real `null`
/// is four bytes long), so the tree keeps its shape.
fn placeholder(at: u32) -> Expr {
    Expr::new(ExprKind::Null, Span { start: at, end: at })
}

fn is_placeholder(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Null) && e.span.is_empty()
}

/// The source text of a token as a message shows it: its first line, at most 24 characters.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(24).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Marks a parse function that failed. Its error has been reported, or is explained by an
/// earlier diagnostic (a token the lexer rejected, an input that ended early, X0302).
#[derive(Debug)]
struct Stop;

type PResult<T> = Result<T, Stop>;

/// What an item parser of a bracketed list returns: the item and its height, or on failure an
/// optional stand-in to keep in its place.
type ItemResult<T> = Result<(T, usize), Option<T>>;

/// A parsed expression and its height: 0 for a leaf, 1 + the tallest child for anything else.
#[derive(Debug)]
struct Node {
    expr: Expr,
    height: usize,
}

impl Node {
    fn leaf(kind: ExprKind, span: Span) -> Node {
        Node { expr: Expr::new(kind, span), height: 0 }
    }
}

/// How a bracketed list is delimited.
#[derive(Clone, Copy, Debug)]
struct Delims {
    close: Op,
    /// The separator between items; `None` for exactly one item.
    sep: Option<Op>,
    /// Whether a separator may come right before the closer (blocks: `(a; b;)`).
    trailing_sep: bool,
    /// Whether the list may be empty (`[]`, `{}`, `()`, `f()`).
    allow_empty: bool,
}

const ARRAY: Delims = Delims { close: Op::RBracket, sep: Some(Op::Comma), trailing_sep: false, allow_empty: true };
const OBJECT: Delims = Delims { close: Op::RBrace, sep: Some(Op::Comma), trailing_sep: false, allow_empty: true };
const ARGS: Delims = Delims { close: Op::RParen, sep: Some(Op::Comma), trailing_sep: false, allow_empty: true };
const BLOCK: Delims = Delims { close: Op::RParen, sep: Some(Op::Semicolon), trailing_sep: true, allow_empty: true };
const SORT: Delims = Delims { close: Op::RParen, sep: Some(Op::Comma), trailing_sep: false, allow_empty: false };
const PREDICATE: Delims = Delims { close: Op::RBracket, sep: None, trailing_sep: false, allow_empty: false };
const BODY: Delims = Delims { close: Op::RBrace, sep: None, trailing_sep: false, allow_empty: false };

/// The parser state over one source: the lexer, one token of lookahead, and what has been
/// reported.
struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    /// The current token (one token of lookahead).
    tok: Token,
    /// The operator of the previous token, for hints ("remove the trailing `,`").
    prev_op: Option<Op>,
    /// Where the previous token ended: a missing token is reported there.
    prev_end: u32,
    diagnostics: Vec<Diagnostic>,
    /// How many constructs enclose the expression being parsed.
    depth: usize,
    /// An error has been reported at, or has skipped to, the end of the input: constructs left
    /// open there are not reported again.
    eof_reported: bool,
    /// X0302 was reported: the parse stops and reports nothing more.
    fatal: bool,
    /// The lists being parsed, innermost last: the closer each one expects and its opener.
    /// Bounded by the depth limit.
    open: Vec<(Op, Span)>,
    /// Where a closer starts that has been reported as leaving the lists inside its own open:
    /// those lists end silently there.
    closer_explained: Option<u32>,
    /// Line starts, built the first time a message names the line of an opener.
    lines: Option<LineIndex<'s>>,
    /// The [`brackets`] of the source, lexed the first time a wrong closer is met.
    brackets: Option<Vec<(u32, Op)>>,
    /// The last [`Parser::reading`]: the closer's start, how many lists were open, the reading.
    reading: Option<(u32, usize, Reading)>,
}

/// How the parser reads a closer that is not the innermost open list's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    /// It closes the list at this index of the open ones; the lists inside it are left open.
    LeftOpen(usize),
    /// It closes nothing: skip it.
    Stray,
    /// A typo for the innermost list's closer.
    Typo,
}

/// How many brackets and separators after a wrong closer [`Parser::reading`] looks at.
const LOOKAHEAD: usize = 256;

/// The closer of an opening bracket.
fn closer_of(op: Op) -> Option<Op> {
    Some(match op {
        Op::LParen => Op::RParen,
        Op::LBracket => Op::RBracket,
        Op::LBrace => Op::RBrace,
        _ => return None,
    })
}

/// Every bracket and separator token of `src` (`(`, `)`, `[`, `]`, `{`, `}`, `,`, `;`) with its
/// start, in order. Lexed once, with the operand/operator guess of [`Parser::recover`] (a rare
/// `/` read otherwise than by the parser only leaves a closer unfound here, and
/// [`Parser::reading`] then decides by its tie order alone).
fn brackets(src: &str) -> Vec<(u32, Op)> {
    let mut lexer = Lexer::new(src);
    let mut expect = Expect::Operand;
    let mut out = Vec::new();
    loop {
        let tok = lexer.next_token(expect);
        match tok.kind {
            TokenKind::Eof => break,
            TokenKind::Op(op) if op.is_opener() || op.is_closer() || matches!(op, Op::Comma | Op::Semicolon) => {
                out.push((tok.span.start, op));
            }
            _ => {}
        }
        expect = if tok.ends_operand() { Expect::Operator } else { Expect::Operand };
    }
    out
}

/// How well `rest` (the [`brackets`] after a closer) fits the lists `open` (their closers,
/// innermost last): how many of its first [`LOOKAHEAD`] tokens fit before one does not (a
/// closer of another list, a `,` outside every list, a `;` outside parentheses), and all of
/// them when the input ends with every list closed.
fn fit(rest: &[(u32, Op)], open: &[Op]) -> usize {
    let mut stack = open.to_vec();
    for (fitted, &(_, op)) in rest.iter().take(LOOKAHEAD).enumerate() {
        let fits = match op {
            Op::Comma => !stack.is_empty(),
            Op::Semicolon => stack.last() == Some(&Op::RParen),
            _ => match closer_of(op) {
                Some(close) => {
                    stack.push(close);
                    true
                }
                None => stack.pop() == Some(op),
            },
        };
        if !fits {
            return fitted;
        }
    }
    if rest.len() < LOOKAHEAD && !stack.is_empty() { rest.len() } else { LOOKAHEAD }
}

/// A list that a closer of an enclosing list leaves open: the closer it expects, its opener and
/// the line of the opener.
#[derive(Clone, Copy, Debug)]
struct LeftOpen {
    close: Op,
    open: Span,
    line: u32,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Parser<'s> {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token(Expect::Operand);
        Parser {
            src,
            lexer,
            tok,
            prev_op: None,
            prev_end: 0,
            diagnostics: Vec::new(),
            depth: 0,
            eof_reported: false,
            fatal: false,
            open: Vec::new(),
            closer_explained: None,
            lines: None,
            brackets: None,
            reading: None,
        }
    }

    fn finish(mut self, expr: Option<Expr>) -> Parsed {
        let mut diagnostics = self.lexer.take_diagnostics();
        diagnostics.append(&mut self.diagnostics);
        diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
        Parsed { expr: if self.fatal { None } else { expr }, diagnostics }
    }

    /// The whole input: one expression and the end.
    fn top(&mut self) -> Option<Expr> {
        let node = self.expr(0).ok()?;
        if self.tok.kind != TokenKind::Eof {
            self.trailing();
        }
        Some(node.expr)
    }

    // ---- tokens ----

    /// Moves to the next token, returning the current one. `next` says whether the token after
    /// the current one is an operand (decides `/`: regex or division).
    fn bump(&mut self, next: Expect) -> Token {
        self.prev_end = self.tok.span.end;
        self.prev_op = match self.tok.kind {
            TokenKind::Op(op) => Some(op),
            _ => None,
        };
        let token = self.lexer.next_token(next);
        std::mem::replace(&mut self.tok, token)
    }

    fn at(&self, op: Op) -> bool {
        matches!(self.tok.kind, TokenKind::Op(o) if o == op)
    }

    /// Consumes `op` or reports what was expected instead.
    fn expect(&mut self, op: Op, what: &str, opener: Option<Span>, next: Expect) -> PResult<Span> {
        if self.at(op) {
            return Ok(self.bump(next).span);
        }
        Err(self.expected(what, opener))
    }

    // ---- diagnostics ----

    fn report(&mut self, diagnostic: Diagnostic) {
        if !self.fatal {
            self.diagnostics.push(diagnostic);
        }
    }

    fn eof_explained(&self) -> bool {
        self.eof_reported || self.lexer.ran_off_end()
    }

    /// How a message names the current token.
    fn found(&self) -> String {
        match self.tok.kind {
            TokenKind::Eof => "the end of the input".to_string(),
            _ => format!("`{}`", shorten(&self.src[self.tok.span.range()])),
        }
    }

    /// An empty span where the previous token ended (for something missing at the end).
    fn after_prev(&self) -> Span {
        Span { start: self.prev_end, end: self.prev_end }
    }

    /// Reports that `what` was expected at the current token: S0203 at the end of the input,
    /// S0202 elsewhere, nothing for a token the lexer rejected. `opener` is labelled as the
    /// construct left open.
    fn expected(&mut self, what: &str, opener: Option<Span>) -> Stop {
        match self.tok.kind {
            TokenKind::Invalid => {}
            TokenKind::Eof => {
                if !self.eof_explained() {
                    let message = format!("expected {what}, found the end of the input");
                    let mut d = Diagnostic::error(Code::UnexpectedEnd, self.after_prev(), message);
                    if let Some(open) = opener {
                        let text = &self.src[open.range()];
                        d = d.with_label(open, format!("this `{text}` is not closed"));
                    }
                    self.report(d);
                }
                self.eof_reported = true;
            }
            _ if self.closer_is_explained() => {}
            _ => {
                let message = format!("expected {what}, found {}", self.found());
                let mut d = Diagnostic::error(Code::ExpectedToken, self.tok.span, message);
                if let Some(open) = opener {
                    let text = &self.src[open.range()];
                    d = d.with_label(open, format!("the `{text}` opened here"));
                }
                let left = self.left_open();
                if !left.is_empty() {
                    d = d.with_hint(self.close_advice(&left));
                    d = self.with_left_open(d, &left);
                }
                self.report(d);
            }
        }
        Stop
    }

    /// Reports that an expression was expected at the current token (S0207 at the end of the
    /// input, S0211 for a token that cannot start one).
    fn missing_operand(&mut self) -> Stop {
        match self.tok.kind {
            TokenKind::Invalid => {}
            TokenKind::Eof => {
                if !self.eof_explained() {
                    let message = "expected an expression, found the end of the input";
                    let d = Diagnostic::error(Code::MissingExpression, self.after_prev(), message);
                    self.report(d);
                }
                self.eof_reported = true;
            }
            TokenKind::Op(_) if self.closer_is_explained() => {}
            TokenKind::Op(op) => {
                let message = format!("expected an expression, found {}", self.found());
                let mut d = Diagnostic::error(Code::InvalidUnary, self.tok.span, message);
                let hint = self.missing_operand_hint(op);
                let left = self.left_open();
                if left.is_empty() {
                    if let Some(hint) = hint {
                        d = d.with_hint(hint);
                    } else if self.reading() == Some(Reading::Stray) {
                        d = d.with_hint(format!("this `{}` closes nothing that is open; remove it", op.as_str()));
                    }
                } else {
                    // `[1, 2,` before the `}` of an enclosing object: one diagnostic for both.
                    let advice = self.close_advice(&left);
                    d = d.with_hint(match hint {
                        Some(hint) => format!("{hint}; {advice}"),
                        None => advice,
                    });
                    d = self.with_left_open(d, &left);
                }
                self.report(d);
            }
            _ => {} // every other token starts an expression
        }
        Stop
    }

    fn missing_operand_hint(&self, found: Op) -> Option<&'static str> {
        match found {
            _ if found.is_closer() && self.prev_op == Some(Op::Comma) => Some("remove the trailing `,`"),
            _ if self.prev_op == Some(Op::Colon) => Some("the value after `:` is missing"),
            Op::Plus => Some("a number has no `+` sign"),
            Op::Dot => Some("a number starts with a digit: `0.5`, not `.5`"),
            _ => None,
        }
    }

    /// The line of a byte offset, for messages that name where something was opened.
    fn line_of(&mut self, offset: u32) -> u32 {
        let src = self.src;
        self.lines.get_or_insert_with(|| LineIndex::new(src)).line_col(offset as usize).line
    }

    /// How the current token is read when it is a closer, a list is open and the closer is not
    /// that list's own; `None` otherwise.
    fn reading(&mut self) -> Option<Reading> {
        let TokenKind::Op(op) = self.tok.kind else { return None };
        let &(own, _) = self.open.last()?;
        if !op.is_closer() || op == own {
            return None;
        }
        let (start, n) = (self.tok.span.start, self.open.len());
        if let Some((s, len, reading)) = self.reading
            && (s, len) == (start, n)
        {
            return Some(reading);
        }
        let enclosing = self.open.iter().rposition(|&(close, _)| close == op);
        // How far the brackets that follow fit the lists left open by each reading.
        let fits = self.bracket_index().map(|i| {
            let (brackets, open) = (self.brackets.as_deref().unwrap_or_default(), &self.open);
            let rest = &brackets[i + 1..];
            let closers: Vec<Op> = open.iter().map(|&(close, _)| close).collect();
            let left_open = enclosing.map(|at| fit(rest, &closers[..at]));
            (left_open, fit(rest, &closers[..n - 1]), fit(rest, &closers))
        });
        let reading = match fits {
            Some((left_open, typo, stray)) => {
                let best = left_open.unwrap_or(0).max(typo).max(stray);
                match enclosing {
                    Some(at) if left_open == Some(best) => Reading::LeftOpen(at),
                    _ if stray == best && (typo < best || self.next_is(own)) => Reading::Stray,
                    _ => Reading::Typo,
                }
            }
            // The closer is not where the brackets were lexed: the tie order alone decides.
            None => match enclosing {
                Some(at) => Reading::LeftOpen(at),
                None if self.next_is(own) => Reading::Stray,
                None => Reading::Typo,
            },
        };
        self.reading = Some((start, n, reading));
        Some(reading)
    }

    /// The index of the current token among the [`brackets`] of the source, if it is there.
    fn bracket_index(&mut self) -> Option<usize> {
        let src = self.src;
        let brackets = self.brackets.get_or_insert_with(|| brackets(src));
        brackets.binary_search_by_key(&self.tok.span.start, |&(start, _)| start).ok()
    }

    /// The lists the current token leaves open when it is read as closing a list further out
    /// than the innermost (innermost first); empty otherwise.
    fn left_open(&mut self) -> Vec<LeftOpen> {
        let Some(Reading::LeftOpen(at)) = self.reading() else { return Vec::new() };
        let inner: Vec<(Op, Span)> = self.open[at + 1..].iter().rev().copied().collect();
        inner.into_iter().map(|(close, open)| LeftOpen { close, open, line: self.line_of(open.start) }).collect()
    }

    /// How to close the lists in `left`: "close the `[` opened at line 5 with `]`".
    fn close_advice(&self, left: &[LeftOpen]) -> String {
        let names: Vec<String> =
            left.iter().map(|l| format!("the `{}` opened at line {}", &self.src[l.open.range()], l.line)).collect();
        let names = match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        };
        let closers: String = left.iter().map(|l| l.close.as_str()).collect();
        format!("close {names} with `{closers}`")
    }

    /// `d`, reported at the current closer, with a label at each list in `left` (what it leaves
    /// open). The closer is then explained: the lists it leaves open end there silently.
    fn with_left_open(&mut self, mut d: Diagnostic, left: &[LeftOpen]) -> Diagnostic {
        for (i, l) in left.iter().enumerate() {
            let text = &self.src[l.open.range()];
            let either = if i == 0 { "" } else { " either" };
            d = d.with_label(l.open, format!("this `{text}` is not closed{either}"));
        }
        self.closer_explained = Some(self.tok.span.start);
        d
    }

    /// Whether the current token is a closer already reported as leaving lists open.
    fn closer_is_explained(&self) -> bool {
        self.closer_explained == Some(self.tok.span.start) && self.tok.kind != TokenKind::Eof
    }

    /// S0202 at a closer that belongs to a list further out: the innermost list, and any
    /// between it and that one, are left open.
    fn report_left_open(&mut self) {
        if self.closer_is_explained() {
            return;
        }
        let left = self.left_open();
        let Some(first) = left.first().copied() else { return };
        let text = &self.src[first.open.range()];
        let close = first.close.as_str();
        let message =
            format!("expected `{close}` to close the `{text}` opened at line {}, found {}", first.line, self.found());
        let mut d = Diagnostic::error(Code::ExpectedToken, self.tok.span, message);
        if left.len() > 1 {
            d = d.with_hint(self.close_advice(&left));
        }
        let d = self.with_left_open(d, &left);
        self.report(d);
    }

    /// Whether the token after the current one is `op`. Lexed by a throwaway lexer, so that
    /// nothing is recorded twice; the current token is a closer, so an operator comes next.
    /// [`Parser::reading`] keeps its answer, so that no token is lexed this way twice for the
    /// same list.
    fn next_is(&self, op: Op) -> bool {
        let rest = &self.src[self.tok.span.end as usize..];
        matches!(Lexer::new(rest).next_token(Expect::Operator).kind, TokenKind::Op(o) if o == op)
    }

    /// S0201: a token after a complete expression at the top level.
    fn trailing(&mut self) {
        if self.tok.kind == TokenKind::Invalid {
            return;
        }
        let message = format!("expected the end of the input, found {}", self.found());
        let mut d = Diagnostic::error(Code::UnexpectedToken, self.tok.span, message);
        if matches!(self.tok.kind, TokenKind::Op(op) if op.is_closer()) {
            d = d.with_hint("this closes nothing that is open");
        }
        self.report(d);
    }

    fn too_deep(&mut self, anchor: Span) -> Stop {
        let message = format!("constructs are nested more than {MAX_DEPTH} levels deep here");
        let d = Diagnostic::error(Code::TooDeep, anchor, message).with_hint("flatten the template");
        self.report(d);
        self.fatal = true;
        Stop
    }

    // ---- depth ----

    /// Checks that a construct starting at the current depth may have children.
    fn enter(&mut self, anchor: Span) -> PResult<()> {
        if self.depth + 1 > MAX_DEPTH {
            return Err(self.too_deep(anchor));
        }
        Ok(())
    }

    /// Parses a child of the construct at the current depth.
    fn child<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    /// A node with children, checked against the depth limit.
    fn composite(&mut self, kind: ExprKind, span: Span, height: usize, anchor: Span) -> PResult<Node> {
        if self.depth + height > MAX_DEPTH {
            return Err(self.too_deep(anchor));
        }
        Ok(Node { expr: Expr::new(kind, span), height })
    }

    // ---- expressions ----

    /// Precedence climbing: an operand, then every infix operator that binds tighter than
    /// `min_bp` (all left-associative but `:=`, whose right side is parsed at 9).
    fn expr(&mut self, min_bp: u8) -> PResult<Node> {
        let mut left = self.nud()?;
        while let Some(bp) = infix_bp(&self.tok.kind) {
            if bp <= min_bp {
                break;
            }
            left = self.led(left, bp)?;
        }
        Ok(left)
    }

    /// An operand: a leaf token or a prefix construct.
    fn nud(&mut self) -> PResult<Node> {
        if let Some(kind) = leaf_kind(&self.tok.kind) {
            let span = self.bump(Expect::Operator).span;
            return Ok(Node::leaf(kind, span));
        }
        match self.tok.kind {
            TokenKind::Op(Op::Minus) => self.negate(),
            TokenKind::Op(Op::LBracket) => self.array(),
            TokenKind::Op(Op::LBrace) => self.object(),
            TokenKind::Op(Op::LParen) => self.block(),
            TokenKind::Op(Op::Pipe) => self.transform(),
            _ => Err(self.missing_operand()),
        }
    }

    /// An infix construct applied to `left`; the current token is its operator.
    fn led(&mut self, left: Node, bp: u8) -> PResult<Node> {
        let TokenKind::Op(op) = self.tok.kind else { return Err(Stop) };
        let op_span = self.tok.span;
        self.enter(op_span)?;
        match op {
            Op::Dot => self.path(left, op_span),
            Op::LBracket => self.filter(left, op_span),
            Op::LBrace => self.group(left, op_span),
            Op::LParen => self.call(left, op_span),
            Op::At | Op::Hash => self.focus(left, op, op_span),
            Op::Question => self.condition(left, op_span),
            Op::Bind => self.bind(left, op_span),
            Op::Caret => self.sort(left, op_span),
            _ => self.binary(left, op, op_span, bp),
        }
    }

    /// `-x`; on a number literal the minus folds into it, as the reference's `processAST` does.
    fn negate(&mut self) -> PResult<Node> {
        let minus = self.tok.span;
        self.enter(minus)?;
        self.bump(Expect::Operand);
        let operand = self.child(|p| p.expr(70))?;
        let span = minus.to(operand.expr.span);
        if let ExprKind::Number(n) = operand.expr.kind {
            return Ok(Node::leaf(ExprKind::Number(-n), span));
        }
        let height = operand.height + 1;
        self.composite(ExprKind::Negate(Box::new(operand.expr)), span, height, minus)
    }

    /// `[ a, b, 1..5 ]`
    fn array(&mut self) -> PResult<Node> {
        let open = self.tok.span;
        self.enter(open)?;
        self.bump(Expect::Operand);
        let (items, close, height) = self.list(open, ARRAY, Self::array_item)?;
        self.composite(ExprKind::Array(items), open.to(close), height + 1, open)
    }

    /// An item of an array constructor, where a range `a..b` may stand.
    fn array_item(&mut self) -> ItemResult<Expr> {
        let (lhs, lhs_height) = self.item()?;
        if !self.at(Op::DotDot) {
            return Ok((lhs, lhs_height));
        }
        let op_span = self.tok.span;
        let at = lhs.span.start;
        let range = self.enter(op_span).and_then(|()| {
            self.bump(Expect::Operand);
            let rhs = self.child(|p| p.expr(0))?;
            let span = lhs.span.to(rhs.expr.span);
            let height = 1 + lhs_height.max(rhs.height);
            let kind = ExprKind::Binary { op: BinOp::Range, op_span, lhs: Box::new(lhs), rhs: Box::new(rhs.expr) };
            self.composite(kind, span, height, op_span)
        });
        range.map(|n| (n.expr, n.height)).map_err(|Stop| Some(placeholder(at)))
    }

    /// One expression as a list item, or a placeholder for it.
    fn item(&mut self) -> ItemResult<Expr> {
        let at = self.tok.span.start;
        match self.expr(0) {
            Ok(node) => Ok((node.expr, node.height)),
            Err(Stop) => Err(Some(placeholder(at))),
        }
    }

    /// `{ k: v, ... }` as an operand.
    fn object(&mut self) -> PResult<Node> {
        let open = self.tok.span;
        self.enter(open)?;
        self.bump(Expect::Operand);
        let (pairs, close, height) = self.list(open, OBJECT, Self::pair)?;
        self.composite(ExprKind::Object(pairs), open.to(close), height + 1, open)
    }

    /// `key: value`. A pair whose key parsed keeps it (with a placeholder value) when the rest
    /// fails, so that duplicate keys are still found.
    fn pair(&mut self) -> ItemResult<Pair> {
        let key = self.expr(0).map_err(|Stop| None)?;
        let value = self.expect(Op::Colon, "`:` after the key", None, Expect::Operand).and_then(|_| self.expr(0));
        match value {
            Ok(value) => {
                let height = key.height.max(value.height);
                Ok((Pair { key: key.expr, value: value.expr }, height))
            }
            Err(Stop) => {
                let at = key.expr.span.end;
                Err(Some(Pair { key: key.expr, value: placeholder(at) }))
            }
        }
    }

    /// `( a; b; ... )`, also plain parentheses and `()`.
    fn block(&mut self) -> PResult<Node> {
        let open = self.tok.span;
        self.enter(open)?;
        self.bump(Expect::Operand);
        let (items, close, height) = self.list(open, BLOCK, Self::item)?;
        self.composite(ExprKind::Block(items), open.to(close), height + 1, open)
    }

    /// `| pattern | update [, delete] |`
    fn transform(&mut self) -> PResult<Node> {
        let open = self.tok.span;
        self.enter(open)?;
        self.bump(Expect::Operand);
        let pattern = self.child(|p| p.expr(0))?;
        self.expect(Op::Pipe, "`|` after the pattern of the transform", Some(open), Expect::Operand)?;
        let update = self.child(|p| p.expr(0))?;
        let delete = if self.at(Op::Comma) {
            self.bump(Expect::Operand);
            Some(self.child(|p| p.expr(0))?)
        } else {
            None
        };
        let close = self.expect(Op::Pipe, "`|` to close the transform", Some(open), Expect::Operator)?;
        let delete_height = delete.as_ref().map_or(0, |d| d.height);
        let height = 1 + pattern.height.max(update.height).max(delete_height);
        let kind = ExprKind::Transform {
            pattern: Box::new(pattern.expr),
            update: Box::new(update.expr),
            delete: delete.map(|d| Box::new(d.expr)),
        };
        self.composite(kind, open.to(close), height, open)
    }

    /// `lhs op rhs` for the plain binary operators. `?:` and `??` take everything to their
    /// right (the reference parses their right side at binding power 0).
    fn binary(&mut self, left: Node, op: Op, op_span: Span, bp: u8) -> PResult<Node> {
        let Some(bin) = bin_op(op) else { return Err(Stop) };
        self.bump(Expect::Operand);
        let rhs_bp = if matches!(bin, BinOp::Elvis | BinOp::Coalesce) { 0 } else { bp };
        let rhs = self.child(|p| p.expr(rhs_bp))?;
        let span = left.expr.span.to(rhs.expr.span);
        let height = 1 + left.height.max(rhs.height);
        let kind = ExprKind::Binary { op: bin, op_span, lhs: Box::new(left.expr), rhs: Box::new(rhs.expr) };
        self.composite(kind, span, height, op_span)
    }

    /// `left . step`: flattened into one path.
    fn path(&mut self, left: Node, dot: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let rhs = self.child(|p| p.expr(75))?;
        let span = left.expr.span.to(rhs.expr.span);
        let (mut steps, steps_height) = match left.expr.kind {
            ExprKind::Path(steps) => (steps, left.height.saturating_sub(1)),
            kind => (vec![self.step(Expr::new(kind, left.expr.span))?], left.height),
        };
        steps.push(self.step(rhs.expr)?);
        let height = 1 + steps_height.max(rhs.height);
        self.composite(ExprKind::Path(steps), span, height, dot)
    }

    /// An expression used as a path step: a string literal becomes a quoted name; a number,
    /// `true`, `false` or `null` is an error (S0213).
    fn step(&mut self, e: Expr) -> PResult<Expr> {
        match e.kind {
            ExprKind::String(name) => Ok(Expr::new(ExprKind::Name { name, quoted: true }, e.span)),
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null => {
                let text = &self.src[e.span.range()];
                let what = if matches!(e.kind, ExprKind::Number(_)) { "number" } else { "literal" };
                let message = format!("the {what} `{text}` cannot be a path step");
                let hint = format!("a field with that name is written `` `{text}` ``");
                self.report(Diagnostic::error(Code::LiteralStep, e.span, message).with_hint(hint));
                Err(Stop)
            }
            _ => Ok(e),
        }
    }

    /// `left[predicate]`, or `left[]`.
    fn filter(&mut self, left: Node, open: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        if self.at(Op::RBracket) {
            let close = self.bump(Expect::Operator).span;
            let span = left.expr.span.to(close);
            let kind = ExprKind::KeepArray { expr: Box::new(left.expr), bracket: open.to(close) };
            return self.composite(kind, span, left.height + 1, open);
        }
        let (mut predicate, close, height) = self.list(open, PREDICATE, Self::item)?;
        let predicate = predicate.pop().unwrap_or_else(|| placeholder(close.start));
        let bracket = open.to(close);
        if matches!(left.expr.kind, ExprKind::Group { .. }) {
            let message = "a predicate `[...]` cannot follow a grouping `{...}`";
            self.report(Diagnostic::error(Code::PredicateAfterGroup, bracket, message));
            return Err(Stop);
        }
        let span = left.expr.span.to(close);
        let height = 1 + left.height.max(height);
        let kind = ExprKind::Filter { expr: Box::new(left.expr), predicate: Box::new(predicate), bracket };
        self.composite(kind, span, height, open)
    }

    /// `left{ k: v, ... }`: grouping.
    fn group(&mut self, left: Node, open: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let (pairs, close, height) = self.list(open, OBJECT, Self::pair)?;
        let brace = open.to(close);
        if matches!(left.expr.kind, ExprKind::Group { .. }) {
            let message = "an expression can have only one grouping `{...}`";
            self.report(Diagnostic::error(Code::DoubleGroup, brace, message));
            return Err(Stop);
        }
        let span = left.expr.span.to(close);
        let height = 1 + left.height.max(height);
        self.composite(ExprKind::Group { expr: Box::new(left.expr), pairs, brace }, span, height, open)
    }

    /// `left(args)`: a call, or a lambda when `left` is the name `function` or `λ`.
    fn call(&mut self, left: Node, paren: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let (args, close, height) = self.list(paren, ARGS, Self::argument)?;
        if matches!(&left.expr.kind, ExprKind::Name { name, .. } if name == "function" || name == "λ") {
            return self.lambda(left.expr.span, &args);
        }
        let span = left.expr.span.to(close);
        let height = 1 + left.height.max(height);
        self.composite(ExprKind::Call { callee: Box::new(left.expr), args, paren }, span, height, paren)
    }

    /// A call argument: an expression, or `?` (partial application).
    fn argument(&mut self) -> ItemResult<Expr> {
        if self.at(Op::Question) {
            let span = self.bump(Expect::Operator).span;
            return Ok((Expr::new(ExprKind::Placeholder, span), 0));
        }
        self.item()
    }

    /// The rest of `function($a, $b)<sig>{ body }` after its parameter list.
    fn lambda(&mut self, keyword: Span, args: &[Expr]) -> PResult<Node> {
        let mut params = Vec::new();
        let mut bad_param = false;
        for arg in args {
            match &arg.kind {
                ExprKind::Variable(name) => params.push(name.clone()),
                _ if is_placeholder(arg) => bad_param = true,
                _ => {
                    let message = "a function parameter must be a variable such as `$x`";
                    self.report(Diagnostic::error(Code::InvalidParameter, arg.span, message));
                    bad_param = true;
                }
            }
        }
        if self.at(Op::Lt) {
            self.signature()?;
        }
        let open = self.expect(Op::LBrace, "`{` to start the function body", None, Expect::Operand)?;
        let (mut body, close, height) = self.list(open, BODY, Self::item)?;
        if bad_param {
            return Err(Stop);
        }
        let body = body.pop().unwrap_or_else(|| placeholder(close.start));
        let kind = ExprKind::Lambda { params, body: Box::new(body) };
        self.composite(kind, keyword.to(close), height + 1, keyword)
    }

    /// A function signature `<...>`, skipped token by token to its matching `>` as the
    /// reference does (templates reject every lambda, so it is not interpreted).
    fn signature(&mut self) -> PResult<()> {
        let open = self.bump(Expect::Operator).span;
        let mut depth = 1usize;
        loop {
            match self.tok.kind {
                TokenKind::Op(Op::Lt) => depth += 1,
                TokenKind::Op(Op::Gt) => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump(Expect::Operator);
                        return Ok(());
                    }
                }
                TokenKind::Op(Op::LBrace) | TokenKind::Eof => {
                    return Err(self.expected("`>` to close the signature", Some(open)));
                }
                _ => {}
            }
            self.bump(Expect::Operator);
        }
    }

    /// `left@$var` and `left#$var`.
    fn focus(&mut self, left: Node, op: Op, op_span: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let rhs = self.child(|p| p.expr(80))?;
        let ExprKind::Variable(var) = rhs.expr.kind else {
            let message = format!("`{}` must be followed by a variable such as `$x`", op.as_str());
            self.report(Diagnostic::error(Code::ExpectedVariable, rhs.expr.span, message));
            return Err(Stop);
        };
        let part = op_span.to(rhs.expr.span);
        let span = left.expr.span.to(part);
        let expr = Box::new(left.expr);
        let kind = match op {
            Op::At => ExprKind::Focus { expr, var, at: part },
            _ => ExprKind::Index { expr, var, hash: part },
        };
        self.composite(kind, span, left.height + 1, op_span)
    }

    /// `cond ? then [: else]`
    fn condition(&mut self, left: Node, question: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let then = self.child(|p| p.expr(0))?;
        let otherwise = if self.at(Op::Colon) {
            self.bump(Expect::Operand);
            Some(self.child(|p| p.expr(0))?)
        } else {
            None
        };
        let end = otherwise.as_ref().map_or(then.expr.span, |o| o.expr.span);
        let span = left.expr.span.to(end);
        let height = 1 + left.height.max(then.height).max(otherwise.as_ref().map_or(0, |o| o.height));
        let kind = ExprKind::Condition {
            cond: Box::new(left.expr),
            then: Box::new(then.expr),
            otherwise: otherwise.map(|o| Box::new(o.expr)),
            question,
        };
        self.composite(kind, span, height, question)
    }

    /// `$var := value` (right-associative).
    fn bind(&mut self, left: Node, op_span: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let value = self.child(|p| p.expr(9))?;
        if !matches!(left.expr.kind, ExprKind::Variable(_)) {
            let message = "the left side of `:=` must be a variable such as `$x`";
            self.report(Diagnostic::error(Code::InvalidBinding, left.expr.span, message));
            return Err(Stop);
        }
        let span = left.expr.span.to(value.expr.span);
        let height = 1 + left.height.max(value.height);
        let kind = ExprKind::Bind { var: Box::new(left.expr), value: Box::new(value.expr), op_span };
        self.composite(kind, span, height, op_span)
    }

    /// `left^( <term, >term, ... )`
    fn sort(&mut self, left: Node, caret: Span) -> PResult<Node> {
        self.bump(Expect::Operand);
        let open = self.expect(Op::LParen, "`(` after `^`", None, Expect::Operand)?;
        let (terms, close, height) = self.list(open, SORT, Self::sort_term)?;
        let span = left.expr.span.to(close);
        let height = 1 + left.height.max(height);
        let kind = ExprKind::Sort { expr: Box::new(left.expr), terms, caret: caret.to(close) };
        self.composite(kind, span, height, caret)
    }

    fn sort_term(&mut self) -> ItemResult<SortTerm> {
        let descending = match self.tok.kind {
            TokenKind::Op(Op::Lt) => {
                self.bump(Expect::Operand);
                false
            }
            TokenKind::Op(Op::Gt) => {
                self.bump(Expect::Operand);
                true
            }
            _ => false,
        };
        match self.item() {
            Ok((expr, height)) => Ok((SortTerm { descending, expr }, height)),
            Err(stand_in) => Err(stand_in.map(|expr| SortTerm { descending, expr })),
        }
    }

    // ---- bracketed lists and recovery ----

    /// The items of a bracketed list whose opener (`open`) has been consumed, up to and
    /// including its closer. Returns the items, the closer's span and the tallest item.
    ///
    /// An item that fails is recovered from: skip to the next separator or closer at this
    /// depth and go on. A wrong closer is read as [`Parser::reading`] says: one that closes a
    /// list further out ends this one without being consumed (`{"a": [1, 2}`: the object takes
    /// its `}`), a stray is skipped (`[1}]`), a typo closes the list (`[1, 2)`). Each is
    /// reported unless the item before it already was.
    fn list<T>(
        &mut self,
        open: Span,
        d: Delims,
        item: impl FnMut(&mut Self) -> ItemResult<T>,
    ) -> PResult<(Vec<T>, Span, usize)> {
        self.open.push((d.close, open));
        let result = self.list_items(open, d, item);
        self.open.pop();
        result
    }

    /// The body of [`Parser::list`], with the list on the stack of open ones.
    fn list_items<T>(
        &mut self,
        open: Span,
        d: Delims,
        mut item: impl FnMut(&mut Self) -> ItemResult<T>,
    ) -> PResult<(Vec<T>, Span, usize)> {
        let mut items = Vec::new();
        let mut height = 0;
        if d.allow_empty && self.at(d.close) {
            let close = self.bump(Expect::Operator).span;
            return Ok((items, close, height));
        }
        loop {
            let mut broken = false;
            match self.child(|p| Ok(item(p)))? {
                Ok((x, h)) => {
                    items.push(x);
                    height = height.max(h);
                }
                Err(stand_in) => {
                    if self.fatal {
                        return Err(Stop);
                    }
                    items.extend(stand_in);
                    broken = true;
                    self.recover(d.sep);
                }
            }
            // After an item: a separator, the closer, or an error to recover from.
            loop {
                match self.tok.kind {
                    TokenKind::Op(op) if Some(op) == d.sep => {
                        self.bump(Expect::Operand);
                        if d.trailing_sep && self.at(d.close) {
                            let close = self.bump(Expect::Operator).span;
                            return Ok((items, close, height));
                        }
                        break;
                    }
                    TokenKind::Op(op) if op == d.close => {
                        let close = self.bump(Expect::Operator).span;
                        return Ok((items, close, height));
                    }
                    TokenKind::Op(op) if op.is_closer() => match self.reading() {
                        Some(Reading::LeftOpen(_)) => {
                            if !broken {
                                self.report_left_open();
                            }
                            return Ok((items, self.after_prev(), height));
                        }
                        Some(Reading::Stray) => {
                            if !broken {
                                let d = self.stray_closer(d);
                                self.report(d);
                            }
                            broken = true;
                            self.bump(Expect::Operator);
                        }
                        _ => {
                            if !broken {
                                self.expected(&format!("`{}`", d.close.as_str()), Some(open));
                            }
                            let close = self.bump(Expect::Operator).span;
                            return Ok((items, close, height));
                        }
                    },
                    TokenKind::Eof => {
                        if !broken {
                            self.expected(&Self::continuation(d), Some(open));
                        }
                        self.eof_reported = true;
                        return Ok((items, self.after_prev(), height));
                    }
                    _ => {
                        if !broken {
                            self.expected(&Self::continuation(d), Some(open));
                        }
                        broken = true;
                        self.recover(d.sep);
                    }
                }
            }
        }
    }

    /// S0202 for a closer that closes nothing.
    fn stray_closer(&self, d: Delims) -> Diagnostic {
        let message = format!("expected {}, found {}", Self::continuation(d), self.found());
        let hint = format!("this `{}` closes nothing that is open; remove it", &self.src[self.tok.span.range()]);
        Diagnostic::error(Code::ExpectedToken, self.tok.span, message).with_hint(hint)
    }

    /// What may follow an item of a list: "`,` or `]`".
    fn continuation(d: Delims) -> String {
        match d.sep {
            Some(sep) => format!("`{}` or `{}`", sep.as_str(), d.close.as_str()),
            None => format!("`{}`", d.close.as_str()),
        }
    }

    /// Skips tokens up to the list's separator or a closer at the current bracket depth, or
    /// the end of the input. Brackets are counted, not recursed into.
    fn recover(&mut self, sep: Option<Op>) {
        let mut depth = 0usize;
        loop {
            match self.tok.kind {
                TokenKind::Eof => {
                    self.eof_reported = true;
                    return;
                }
                TokenKind::Op(op) if op.is_opener() => depth += 1,
                TokenKind::Op(op) if op.is_closer() => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                TokenKind::Op(op) if depth == 0 && Some(op) == sep => return,
                _ => {}
            }
            let next = if self.tok.ends_operand() { Expect::Operator } else { Expect::Operand };
            self.bump(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering of a tree: `(op children...)`, names bare, quoted names in `'...'`.
    fn sexp(e: &Expr) -> String {
        let all = |es: &[Expr]| es.iter().map(sexp).collect::<Vec<_>>().join(" ");
        let pairs = |ps: &[Pair]| {
            ps.iter().map(|p| format!("{}:{}", sexp(&p.key), sexp(&p.value))).collect::<Vec<_>>().join(" ")
        };
        match &e.kind {
            ExprKind::String(s) => format!("{s:?}"),
            ExprKind::Number(n) => format!("{n}"),
            ExprKind::Bool(b) => format!("{b}"),
            ExprKind::Null if e.span.is_empty() => "<err>".into(),
            ExprKind::Null => "null".into(),
            ExprKind::Name { name, quoted: false } => name.clone(),
            ExprKind::Name { name, quoted: true } => format!("'{name}'"),
            ExprKind::Variable(v) => format!("${v}"),
            ExprKind::Regex { pattern, flags } => format!("/{pattern}/{flags}"),
            ExprKind::Object(ps) => format!("{{{}}}", pairs(ps)),
            ExprKind::Array(items) => format!("[{}]", all(items)),
            ExprKind::Path(steps) => format!("(. {})", all(steps)),
            ExprKind::Group { expr, pairs: ps, .. } => format!("(group {} {{{}}})", sexp(expr), pairs(ps)),
            ExprKind::Binary { op, lhs, rhs, .. } => format!("({} {} {})", op.as_str(), sexp(lhs), sexp(rhs)),
            ExprKind::Negate(x) => format!("(neg {})", sexp(x)),
            ExprKind::Condition { cond, then, otherwise, .. } => match otherwise {
                Some(o) => format!("(? {} {} {})", sexp(cond), sexp(then), sexp(o)),
                None => format!("(? {} {})", sexp(cond), sexp(then)),
            },
            ExprKind::Bind { var, value, .. } => format!("(:= {} {})", sexp(var), sexp(value)),
            ExprKind::Wildcard => "*".into(),
            ExprKind::Descendants => "**".into(),
            ExprKind::Parent => "%".into(),
            ExprKind::Filter { expr, predicate, .. } => format!("(filter {} {})", sexp(expr), sexp(predicate)),
            ExprKind::KeepArray { expr, .. } => format!("(keep {})", sexp(expr)),
            ExprKind::Sort { expr, terms, .. } => {
                let terms: Vec<_> = terms
                    .iter()
                    .map(|t| format!("{}{}", if t.descending { ">" } else { "<" }, sexp(&t.expr)))
                    .collect();
                format!("(sort {} {})", sexp(expr), terms.join(" "))
            }
            ExprKind::Focus { expr, var, .. } => format!("(@ {} ${var})", sexp(expr)),
            ExprKind::Index { expr, var, .. } => format!("(# {} ${var})", sexp(expr)),
            ExprKind::Block(items) => format!("(block {})", all(items)),
            ExprKind::Transform { pattern, update, delete } => match delete {
                Some(d) => format!("(| {} {} {})", sexp(pattern), sexp(update), sexp(d)),
                None => format!("(| {} {})", sexp(pattern), sexp(update)),
            },
            ExprKind::Lambda { params, body } => format!("(fn ({}) {})", params.join(" "), sexp(body)),
            ExprKind::Call { callee, args, .. } => format!("(call {} {})", sexp(callee), all(args)),
            ExprKind::Placeholder => "?".into(),
        }
    }

    fn tree(src: &str) -> String {
        let parsed = parse(src);
        assert!(parsed.diagnostics.is_empty(), "{src}: {:?}", parsed.diagnostics);
        sexp(&parsed.expr.expect("a tree"))
    }

    /// `code@start..end` for every diagnostic.
    fn errors(src: &str) -> Vec<String> {
        parse(src).diagnostics.iter().map(|d| format!("{}@{}..{}", d.code, d.span.start, d.span.end)).collect()
    }

    fn codes(src: &str) -> Vec<&'static str> {
        parse(src).diagnostics.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn literals_and_folded_minus() {
        assert_eq!(tree("-1"), "-1");
        assert_eq!(tree("- /*c*/ 1.5"), "-1.5");
        assert_eq!(tree("--1"), "1");
        assert_eq!(tree("-(1)"), "(neg (block 1))");
        assert_eq!(tree("-a"), "(neg a)");
        let parsed = parse(" -1");
        assert_eq!(parsed.expr.unwrap().span, Span::new(1, 3));
        assert_eq!(tree("-0"), "-0");
    }

    #[test]
    fn precedence_follows_the_reference() {
        assert_eq!(tree("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(tree("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(tree("a & b = c and d or e"), "(or (and (= (& a b) c) d) e)");
        assert_eq!(tree("a ? b : c ? d : e"), "(? a b (? c d e))");
        assert_eq!(tree("a ?: b + c"), "(?: a (+ b c))");
        assert_eq!(tree("a ?? b ?? c"), "(?? a (?? b c))");
        assert_eq!(tree("$a := $b := 1 + 2"), "(:= $a (:= $b (+ 1 2)))");
        assert_eq!(tree("a ~> $f() ~> $g()"), "(~> (~> a (call $f )) (call $g ))");
        assert_eq!(tree("-a.b"), "(neg (. a b))");
        assert_eq!(tree("\"x\" in tags"), "(in \"x\" tags)");
    }

    #[test]
    fn paths_flatten_and_quote_string_steps() {
        assert_eq!(tree("$$.connection.audienceId"), "(. $$ connection audienceId)");
        assert_eq!(tree("a.`b c`.\"d\".'e'"), "(. a 'b c' 'd' 'e')");
        assert_eq!(tree("\"email\".x"), "(. 'email' x)");
        assert_eq!(tree("$$.records.{ \"e\": email }"), "(. $$ records {\"e\":email})");
        assert_eq!(tree("a.b[0].c"), "(. a (filter b 0) c)");
        assert_eq!(tree("$$.and.or.in"), "(. $$ and or in)");
        assert_eq!(tree("[and, or]"), "[and or]");
        assert_eq!(tree("a.*.**.%"), "(. a * ** %)");
        assert_eq!(tree("a.[b]"), "(. a [b])");
    }

    #[test]
    fn literal_steps_are_s0213() {
        assert_eq!(errors("$$.true"), ["S0213@3..7"]);
        assert_eq!(errors("a.null"), ["S0213@2..6"]);
        assert_eq!(errors("$$.5"), ["S0213@3..4"]);
        assert_eq!(errors("true.a"), ["S0213@0..4"]);
        assert_eq!(tree("$$.`true`"), "(. $$ 'true')");
    }

    #[test]
    fn postfix_constructs() {
        assert_eq!(tree("a{\"k\": b}"), "(group a {\"k\":b})");
        assert_eq!(tree("$$.records{\"k\": b}"), "(group (. $$ records) {\"k\":b})");
        assert_eq!(tree("a[]"), "(keep a)");
        assert_eq!(tree("a[0][]"), "(keep (filter a 0))");
        assert_eq!(tree("a^(<b, >c)"), "(sort a <b >c)");
        assert_eq!(tree("a@$x.b#$i"), "(. (@ a $x) (# b $i))");
        assert_eq!(tree("[1..5]"), "[(.. 1 5)]");
        assert_eq!(codes("a{\"k\": 1}[0]"), ["S0209"]);
        assert_eq!(codes("a{\"k\": 1}{\"j\": 2}"), ["S0210"]);
        assert_eq!(codes("a@b"), ["S0214"]);
        assert_eq!(codes("a#1"), ["S0214"]);
    }

    #[test]
    fn blocks_transforms_lambdas_and_calls() {
        assert_eq!(tree("(a; b;)"), "(block a b)");
        assert_eq!(tree("()"), "(block )");
        assert_eq!(tree("|a|{\"b\": 1}, [\"c\"]|"), "(| a {\"b\":1} [\"c\"])");
        assert_eq!(tree("function($x, $y){ $x }"), "(fn (x y) $x)");
        assert_eq!(tree("λ($x)<n-:n>{ $x }(1)"), "(call (fn (x) $x) 1)");
        assert_eq!(tree("function"), "function");
        assert_eq!(tree("$f(?, 1)"), "(call $f ? 1)");
        assert_eq!(tree("$number(a)"), "(call $number a)");
        assert_eq!(codes("function(x){ x }"), ["S0208"]);
        assert_eq!(codes("function($x){ $x"), ["S0203"]);
        assert_eq!(codes("a := 1"), ["S0212"]);
        assert_eq!(codes("2 := 1"), ["S0212"]);
    }

    #[test]
    fn regex_only_where_an_operand_is_expected() {
        assert_eq!(tree("a / 2"), "(/ a 2)");
        assert_eq!(tree("[/a+/i]"), "[/a+/i]");
        assert_eq!(tree("a.* / 2"), "(/ (. a *) 2)");
        assert_eq!(tree("$match(a, /x/)"), "(call $match a /x/)");
        assert_eq!(tree("(a) / 2"), "(/ (block a) 2)");
    }

    #[test]
    fn syntax_errors_name_what_was_expected() {
        let messages = |src: &str| parse(src).diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>();
        assert_eq!(errors(""), ["S0207@0..0"]);
        assert_eq!(errors("$$."), ["S0207@3..3"]);
        assert_eq!(errors("1 ="), ["S0207@3..3"]);
        assert_eq!(errors("a b"), ["S0201@2..3"]);
        assert_eq!(errors("[1 2]"), ["S0202@3..4"]);
        assert_eq!(messages("[1 2]"), ["expected `,` or `]`, found `2`"]);
        assert_eq!(errors("{\"a\" 1}"), ["S0202@5..6"]);
        assert_eq!(errors("[1, 2"), ["S0203@5..5"]);
        assert_eq!(messages("[1, 2"), ["expected `,` or `]`, found the end of the input"]);
        assert_eq!(errors("[1,2,]"), ["S0211@5..6"]);
        assert_eq!(errors("{\"a\":}"), ["S0211@5..6"]);
        assert_eq!(errors("+1"), ["S0211@0..1"]);
        assert_eq!(errors("a ! b"), ["S0204@2..3"]);
        assert_eq!(errors("[//, /x]"), ["S0301@1..3", "S0302@5..8"]);
        assert_eq!(errors("[1,2)"), ["S0202@4..5"]);
        assert_eq!(errors("1)"), ["S0201@1..2"]);
    }

    #[test]
    fn recovery_reports_each_independent_error_once() {
        assert_eq!(errors("[1 2, +, 3 4]"), ["S0202@3..4", "S0211@6..7", "S0202@11..12"]);
        assert_eq!(errors("{\"a\": , \"b\" 1, \"c\": [}, \"d\": 1}"), ["S0211@6..7", "S0202@12..13", "S0211@21..22"]);
        assert_eq!(errors("$f(1 +, (2; 3 4), )"), ["S0211@6..7", "S0202@14..15", "S0211@18..19"]);
        // the tree keeps the shape: one stand-in per broken item
        assert_eq!(sexp(&parse("[1 +, 2]").expr.unwrap()), "[<err> 2]");
        assert_eq!(sexp(&parse("{\"a\": 1 +, \"b\": 2}").expr.unwrap()), "{\"a\":<err> \"b\":2}");
        // errors after a recovered one are still found, lexical ones too
        assert_eq!(errors("[1 2, \"\\q\", a ! b]"), ["S0202@3..4", "S0103@7..9", "S0204@14..15"]);
    }

    #[test]
    fn an_early_end_is_reported_once() {
        assert_eq!(errors("{\"a\": [1, {\"b\": 2"), ["S0203@17..17"]);
        assert_eq!(errors("{\"a\": [1 2"), ["S0202@9..10"]);
        assert_eq!(errors("{\"a\": \"abc"), ["S0101@6..10"]);
        assert_eq!(errors("[1, /* open"), ["S0106@4..11"]);
        assert_eq!(errors("[1, `open"), ["S0105@4..9"]);
        // the partial tree is still there for the checker
        assert_eq!(sexp(&parse("{\"a\": [1, 2").expr.unwrap()), "{\"a\":[1 2]}");
    }

    #[test]
    fn labels_point_at_the_open_construct() {
        let d = &parse("[1, 2").diagnostics[0];
        assert_eq!(d.labels[0].span, Span::new(0, 1));
    }

    #[test]
    fn a_closer_of_a_list_further_out_leaves_the_inner_ones_open() {
        let messages = |src: &str| parse(src).diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>();
        let hints = |src: &str| parse(src).diagnostics.iter().map(|d| d.hint.clone()).collect::<Vec<_>>();
        // one diagnostic, and the enclosing list takes its closer
        assert_eq!(errors("{\"a\": [1}"), ["S0202@8..9"]);
        assert_eq!(messages("{\"a\": [1}"), ["expected `]` to close the `[` opened at line 1, found `}`"]);
        assert_eq!(parse("{\"a\": [1}").diagnostics[0].labels[0].span, Span::new(6, 7));
        assert_eq!(sexp(&parse("{\"a\": [1, 2}").expr.unwrap()), "{\"a\":[1 2]}");
        // at every kind of list
        assert_eq!(errors("[{\"a\": 1]"), ["S0202@8..9"]);
        assert_eq!(errors("{\"a\": $f(1}"), ["S0202@10..11"]);
        assert_eq!(errors("{\"a\": b[0}"), ["S0202@9..10"]);
        assert_eq!(errors("{\"a\": (1; 2}"), ["S0202@11..12"]);
        assert_eq!(errors("{\"a\": b^(c}"), ["S0202@10..11"]);
        assert_eq!(errors("[function($x){ $x ]"), ["S0202@18..19"]);
        // a trailing separator before it is part of the same broken list
        let src = "{\n  \"x\": [1, 2,\n}";
        assert_eq!(errors(src), ["S0211@16..17"]);
        assert_eq!(hints(src), [Some("remove the trailing `,`; close the `[` opened at line 2 with `]`".into())]);
        // several lists left open by one closer: one diagnostic, a label at each
        let d = &parse("{\"a\": [$f(1}").diagnostics;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].labels.iter().map(|l| l.span).collect::<Vec<_>>(), [Span::new(9, 10), Span::new(6, 7)]);
        assert_eq!(d[0].hint.as_deref(), Some("close the `(` opened at line 1 and the `[` opened at line 1 with `)]`"));
        // nor does a construct that is not a list report the closer again
        assert_eq!(errors("{\"a\": |x|[1}"), ["S0202@11..12"]);
        // errors before and after are still found; a broken item already explains its list
        assert_eq!(
            errors("[{\"a\": [1}, {\"b\": [2 3}, {\"c\": 1 +}]"),
            ["S0202@9..10", "S0202@21..22", "S0211@34..35"]
        );
        // the line counts LF, CRLF and lone CR alike
        assert_eq!(messages("{\"a\":\r\n\r[1}")[0], "expected `]` to close the `[` opened at line 3, found `}`");
    }

    #[test]
    fn wrong_closers_are_read_as_the_brackets_after_them_fit() {
        // a typo, when what follows still needs the enclosing list's closer
        assert_eq!(errors("{\"c\": [}, \"d\": 1}"), ["S0211@7..8"]);
        assert_eq!(sexp(&parse("{\"c\": [1}, \"d\": 1}").expr.unwrap()), "{\"c\":[1] \"d\":1}");
        assert_eq!(errors("{\"a\": [1, 2), \"b\": [3}"), ["S0202@11..12", "S0202@21..22"]);
        assert_eq!(errors("{\"a\": [1}, \"b\": [2 3}, \"c\": 1 +}"), ["S0202@8..9", "S0202@19..20", "S0211@31..32"]);
        // a stray: what follows fits the lists without it
        assert_eq!(errors("[1}]"), ["S0202@2..3"]);
        assert_eq!(errors("[}]"), ["S0211@1..2"]);
        assert_eq!(errors("[1 } , 2]"), ["S0202@3..4"]);
        assert_eq!(errors("$f(1])"), ["S0202@4..5"]);
        assert_eq!(errors("{\"a\": [1 }], \"b\": [2 }]}"), ["S0202@9..10", "S0202@21..22"]);
        // closing nothing that is open: a typo for the list's closer
        assert_eq!(errors("{]"), ["S0211@1..2"]);
        assert_eq!(errors("{\"a\": (1]"), ["S0202@8..9", "S0203@9..9"]);
        // an early end after a closer left a list open is still one more diagnostic
        assert_eq!(errors("[{\"a\": [1}"), ["S0202@9..10", "S0203@10..10"]);
    }

    /// Thousands of wrong closers: each is read by looking a bounded way ahead, and the lines of
    /// the openers come from one index.
    #[test]
    fn many_wrong_closers_take_linear_time() {
        let n = MAX_SOURCE_BYTES / 10 - 2;
        let src = format!("[{}]", vec!["{\"a\":[1}"; n].join(","));
        assert!(src.len() <= MAX_SOURCE_BYTES);
        let parsed = parse(&src);
        assert_eq!(parsed.diagnostics.len(), n);
        assert!(parsed.diagnostics.iter().all(|d| d.code == Code::ExpectedToken));
        let k = MAX_SOURCE_BYTES / 4 - 1;
        let strays = format!("[{}1]", "1}, ".repeat(k));
        assert_eq!(parse(&strays).diagnostics.len(), k);
        let deep = format!("{}1{}", "{\"a\":[".repeat(MAX_DEPTH / 2), "}".repeat(MAX_DEPTH / 2));
        let deep = parse(&deep).diagnostics;
        assert!(!deep.is_empty() && deep.len() <= MAX_DEPTH / 2, "{deep:?}");
    }

    fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn nesting_up_to_the_limit_is_fine_and_one_level_more_is_x0302() {
        for (open, close) in [("[", "]"), ("(", ")"), ("{\"a\":", "}"), ("-", ""), ("$f(", ")")] {
            assert!(parse(&nested(open, "a", close, MAX_DEPTH)).diagnostics.is_empty(), "{open}");
            let too_deep = parse(&nested(open, "a", close, MAX_DEPTH + 1));
            let codes: Vec<_> = too_deep.diagnostics.iter().map(|d| d.code).collect();
            assert_eq!(codes, [Code::TooDeep], "{open}");
            assert!(too_deep.expr.is_none());
        }
        // an empty array is a construct too
        assert!(parse(&nested("[", "", "]", MAX_DEPTH)).diagnostics.is_empty());
        assert_eq!(codes(&nested("[", "", "]", MAX_DEPTH + 1)), ["X0302"]);
        // the innermost construct that is too deep is the one blamed
        let d = &parse(&nested("[", "", "]", MAX_DEPTH + 1)).diagnostics[0];
        assert_eq!(d.span, Span::new(MAX_DEPTH, MAX_DEPTH + 1));
    }

    #[test]
    fn trees_built_by_loops_are_bounded_too() {
        let chain = |n: usize| vec!["1"; n + 1].join("+");
        assert!(parse(&chain(MAX_DEPTH)).diagnostics.is_empty());
        assert_eq!(codes(&chain(MAX_DEPTH + 1)), ["X0302"]);
        // a path is one node however long
        assert!(parse(&vec!["a"; 1000].join(".")).diagnostics.is_empty());
        // a deep left operand wrapped once more
        assert_eq!(codes(&format!("{}.b", nested("[", "1", "]", MAX_DEPTH))), ["X0302"]);
    }

    #[test]
    fn too_large_sources_are_one_x0301() {
        let src = "[".repeat(MAX_SOURCE_BYTES + 1);
        assert_eq!(codes(&src), ["X0301"]);
        assert!(parse(&"1".repeat(MAX_SOURCE_BYTES)).expr.is_some());
    }

    /// Pathological inputs through every stage, in a thread with a 2 MiB stack (the size of a
    /// test thread), in whatever build the tests run.
    #[test]
    fn no_input_overflows_a_small_stack() {
        let run = || {
            use super::super::{check_expression, check_template, report};
            let big = MAX_SOURCE_BYTES;
            let deepest_ok = MAX_DEPTH;
            let inputs = [
                "[".repeat(big),
                "(".repeat(big),
                "{".repeat(big),
                "-".repeat(big),
                "{\"a\":".repeat(big / 5),
                "$f(".repeat(big / 3),
                "a[".repeat(big / 2),
                "|".repeat(big),
                "1+".repeat(big / 2),
                "$a:=".repeat(big / 4),
                "a?".repeat(big / 2),
                "[".repeat(1_000_000),
                "-".repeat(1_000_000),
                "(".repeat(1_000_000),
                format!("{}1{}", "[".repeat(big / 2 - 1), "]".repeat(big / 2 - 1)),
                format!("{}1", "-".repeat(big - 1)),
                // as deep as allowed, so the checker and the reports walk the deepest trees
                nested("{\"a\":[", "$$.records.{\"e\": email}", "]}", (deepest_ok - 2) / 2),
                nested("[$$.records.{\"a\":", "email", "}]", deepest_ok / 3),
                nested("(", "a & b", ")", deepest_ok - 1),
                vec!["x"; deepest_ok + 1].join(" & "),
            ];
            for (i, src) in inputs.iter().enumerate() {
                let parsed = parse(src);
                assert_eq!(parsed.expr.is_some(), i >= inputs.len() - 4, "{i}: {:?}", parsed.diagnostics);
                let checked = [check_expression(src), check_template(src)];
                for c in &checked {
                    report::render_json(src, &c.diagnostics);
                    // The reports of long sources are slow to draw in a debug build; the short
                    // ones cover the drawing.
                    if src.len() < 1000 {
                        report::render_human(src, "t", &c.diagnostics, false);
                    }
                }
                assert!(parsed.diagnostics.len() <= 3, "{:?}", &parsed.diagnostics);
                drop(parsed);
            }
        };
        let handle = std::thread::Builder::new().stack_size(2 << 20).spawn(run).unwrap();
        handle.join().unwrap();
    }

    /// The height of a tree (leaves 0), walked with an explicit stack.
    fn height(e: &Expr) -> usize {
        fn children(e: &Expr) -> Vec<&Expr> {
            match &e.kind {
                ExprKind::Object(ps) | ExprKind::Group { pairs: ps, .. } => {
                    let mut out: Vec<&Expr> = ps.iter().flat_map(|p| [&p.key, &p.value]).collect();
                    if let ExprKind::Group { expr, .. } = &e.kind {
                        out.push(expr);
                    }
                    out
                }
                ExprKind::Array(items) | ExprKind::Path(items) | ExprKind::Block(items) => items.iter().collect(),
                ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
                ExprKind::Negate(x) | ExprKind::KeepArray { expr: x, .. } => vec![x],
                ExprKind::Focus { expr: x, .. } | ExprKind::Index { expr: x, .. } => vec![x],
                ExprKind::Condition { cond, then, otherwise, .. } => {
                    [Some(&**cond), Some(&**then), otherwise.as_deref()].into_iter().flatten().collect()
                }
                ExprKind::Bind { var, value, .. } => vec![var, value],
                ExprKind::Filter { expr, predicate, .. } => vec![expr, predicate],
                ExprKind::Sort { expr, terms, .. } => {
                    std::iter::once(&**expr).chain(terms.iter().map(|t| &t.expr)).collect()
                }
                ExprKind::Transform { pattern, update, delete } => {
                    [Some(&**pattern), Some(&**update), delete.as_deref()].into_iter().flatten().collect()
                }
                ExprKind::Lambda { body, .. } => vec![body],
                ExprKind::Call { callee, args, .. } => std::iter::once(&**callee).chain(args).collect(),
                _ => Vec::new(),
            }
        }
        let mut max = 0;
        let mut stack = vec![(e, 0)];
        while let Some((e, depth)) = stack.pop() {
            let kids = children(e);
            if !kids.is_empty() {
                max = max.max(depth + 1);
            }
            stack.extend(kids.into_iter().map(|k| (k, depth + 1)));
        }
        max
    }

    /// A small deterministic generator (xorshift64*): fixed seeds, reproducible failures.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const FRAGMENTS: &[&str] = &[
        "[",
        "]",
        "{",
        "}",
        "(",
        ")",
        ",",
        ":",
        ";",
        ".",
        "..",
        "$$",
        "$",
        "$x",
        "$number",
        "$string",
        "\"s\"",
        "'t'",
        "\"\\q\"",
        "\"\\uD800\"",
        "\"\\u12\"",
        "1",
        "-",
        "+",
        "&",
        "=",
        "!=",
        "!",
        "~",
        "~>",
        "?",
        "?:",
        "??",
        ":=",
        "|",
        "^",
        "@",
        "#",
        "*",
        "**",
        "%",
        "/",
        "/a/",
        "//",
        "a",
        "email",
        "records",
        "connection",
        "audienceId",
        "true",
        "null",
        "and",
        "in",
        "function",
        "λ",
        "<",
        ">",
        "/*c*/",
        "/*",
        "`",
        "`b c`",
        "\"",
        " ",
        "\n",
        "\r",
        "\r\n",
        "\t",
        "é",
        "😀",
        "\u{c}",
        "\u{2028}",
        "1e999",
        "0.5",
        "..",
    ];

    const SEED_TEMPLATE: &str = "{\"id\": $$.connection.audienceId, \"users\": [$$.records.{\"e\": email, \
                                 \"n\": $number(age), \"a\": {\"c\": addr.city}, \"t\": [1, -2, \"x\"]}]}";

    /// Checks one input through every stage. `render` also draws the human report (slow in a
    /// debug build, so done for a sample of the inputs).
    fn check_one(src: &str, render: bool) {
        use super::super::{check_expression, check_template, report};
        let parsed = parse(src);
        if let Some(expr) = &parsed.expr {
            assert!(height(expr) <= MAX_DEPTH, "{src:?}");
        }
        for checked in [check_expression(src), check_template(src)] {
            let mut seen = std::collections::HashSet::new();
            for d in &checked.diagnostics {
                let (start, end) = (d.span.start as usize, d.span.end as usize);
                assert!(start <= end && end <= src.len(), "{src:?}: {d:?}");
                assert!(src.is_char_boundary(start) && src.is_char_boundary(end), "{src:?}: {d:?}");
                assert!(seen.insert((d.code, d.span)), "{src:?}: repeated {d:?}");
            }
            let too_deep = checked.diagnostics.iter().filter(|d| d.code == Code::TooDeep).count();
            assert!(too_deep <= 1, "{src:?}");
            if render {
                report::render_human(src, "t", &checked.diagnostics, false);
            }
            report::render_json(src, &checked.diagnostics);
        }
    }

    #[test]
    fn random_token_soup_never_panics_and_spans_stay_inside() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for i in 0..10_000 {
            let len = 1 + rng.below(24);
            let src: String = (0..len).map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())]).collect();
            check_one(&src, i % 16 == 0);
        }
    }

    #[test]
    fn randomly_broken_templates_never_panic() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        let boundaries: Vec<usize> = (0..=SEED_TEMPLATE.len()).filter(|&i| SEED_TEMPLATE.is_char_boundary(i)).collect();
        for i in 0..10_000 {
            let mut src = SEED_TEMPLATE.to_string();
            for _ in 0..1 + rng.below(3) {
                let at = boundaries[rng.below(boundaries.len())].min(src.len());
                let at = (0..=at).rev().find(|&i| src.is_char_boundary(i)).unwrap_or(0);
                if rng.below(2) == 0 {
                    src.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]);
                } else {
                    let end = (at + 1 + rng.below(4)).min(src.len());
                    let end = (end..=src.len()).find(|&i| src.is_char_boundary(i)).unwrap_or(src.len());
                    src.replace_range(at..end, "");
                }
            }
            check_one(&src, i % 16 == 0);
        }
    }
}
