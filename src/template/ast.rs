//! The syntax tree of the whole JSONata expression language.
//!
//! The parser understands all of JSONata so that the checker can name what a template may not
//! use; only a small part of this tree (see `check`) ever reaches the compiler. Every node
//! carries the byte span of its source text.

use super::span::Span;

/// An expression with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// Binary operators, each as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `&`
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    And,
    Or,
    /// `..` (only meaningful inside `[ ]`)
    Range,
    /// `~>`
    Apply,
    /// `?:`
    Elvis,
    /// `??`
    Coalesce,
}

impl BinOp {
    /// The operator as written in source.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Concat => "&",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Range => "..",
            BinOp::Apply => "~>",
            BinOp::Elvis => "?:",
            BinOp::Coalesce => "??",
        }
    }
}

/// One `key: value` pair of an object constructor or a grouping expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub key: Expr,
    pub value: Expr,
}

/// One `expr` term of a sort `^( <expr, >expr )`.
#[derive(Clone, Debug, PartialEq)]
pub struct SortTerm {
    pub descending: bool,
    pub expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A string literal, escapes decoded. `quoted` paths steps never use this: a string literal
    /// used as a path step becomes [`ExprKind::Name`] with `quoted: true`, as in the reference.
    String(String),
    /// A number literal; a unary minus on a number literal is folded into it (`-1`, `--1`).
    Number(f64),
    Bool(bool),
    Null,
    /// A field name: unquoted (`email`), backtick (`` `first name` ``) or a string literal used
    /// as a path step (`"first name"` in `a."first name"`). `and`, `or`, `in` in operand position
    /// are names too.
    Name {
        name: String,
        quoted: bool,
    },
    /// A variable: `$x` has name `"x"`, the context `$` has name `""`, the root `$$` has name `"$"`.
    Variable(String),
    /// `/pattern/flags`
    Regex {
        pattern: String,
        flags: String,
    },
    /// `{ k: v, ... }` as an operand (an object constructor).
    Object(Vec<Pair>),
    /// `[ a, b, ... ]` as an operand (an array constructor).
    Array(Vec<Expr>),
    /// A dotted path `a.b.{...}.c`, its steps in order (nested `.` operators flattened; at least
    /// two steps).
    Path(Vec<Expr>),
    /// `expr{ k: v }`: grouping, an object constructor applied to a whole sequence (no dot).
    Group {
        expr: Box<Expr>,
        pairs: Vec<Pair>,
        brace: Span,
    },
    /// `lhs op rhs`; `op_span` is the operator token.
    Binary {
        op: BinOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Unary minus on anything but a number literal (`-a`, `-(1)`).
    Negate(Box<Expr>),
    /// `cond ? then : else`; `question` is the `?` token.
    Condition {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Option<Box<Expr>>,
        question: Span,
    },
    /// `$name := value`
    Bind {
        var: Box<Expr>,
        value: Box<Expr>,
        op_span: Span,
    },
    /// `*`
    Wildcard,
    /// `**`
    Descendants,
    /// `%`
    Parent,
    /// `expr[predicate]`; `bracket` is the `[ ... ]` part.
    Filter {
        expr: Box<Expr>,
        predicate: Box<Expr>,
        bracket: Span,
    },
    /// `expr[]`; `bracket` is the `[]` part.
    KeepArray {
        expr: Box<Expr>,
        bracket: Span,
    },
    /// `expr^( terms )`; `caret` is the `^( ... )` part.
    Sort {
        expr: Box<Expr>,
        terms: Vec<SortTerm>,
        caret: Span,
    },
    /// `expr@$var`; `at` is the `@$var` part.
    Focus {
        expr: Box<Expr>,
        var: String,
        at: Span,
    },
    /// `expr#$var`; `hash` is the `#$var` part.
    Index {
        expr: Box<Expr>,
        var: String,
        hash: Span,
    },
    /// `( a; b; ... )`, also plain parentheses `(a)`.
    Block(Vec<Expr>),
    /// `| pattern | update [, delete] |`
    Transform {
        pattern: Box<Expr>,
        update: Box<Expr>,
        delete: Option<Box<Expr>>,
    },
    /// `function($a, $b){ body }` or `λ(...){...}`, with an optional signature `<...>`.
    Lambda {
        params: Vec<String>,
        body: Box<Expr>,
    },
    /// `callee(args)`; `callee` is usually a variable (`$number`). `paren` is the `(` token.
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
        paren: Span,
    },
    /// `?` as an argument (partial application).
    Placeholder,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// Whether this is the root variable `$$`.
    pub fn is_root(&self) -> bool {
        matches!(&self.kind, ExprKind::Variable(v) if v == "$")
    }
}
