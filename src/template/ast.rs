//! The syntax tree of the whole JSONata expression language.
//!
//! The parser understands all of JSONata so that the checker can name what a template may not
//! use; only a small part of this tree (see `check`) ever reaches the compiler. Every node
//! carries the byte span of its source text.

use super::span::Span;

/// An expression with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What construct this is, with its parts.
    pub kind: ExprKind,
    /// The source text of the whole construct.
    pub span: Span,
}

/// Binary operators, each as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    Concat,
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
    /// `in` (membership: `"a" in ["a", "b"]`)
    In,
    /// `and`
    And,
    /// `or`
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
    /// The key expression (usually a string literal; any expression yielding a string).
    pub key: Expr,
    /// The value expression.
    pub value: Expr,
}

/// One `expr` term of a sort `^( <expr, >expr )`.
#[derive(Clone, Debug, PartialEq)]
pub struct SortTerm {
    /// `>` was written before the term; `<` or nothing sorts ascending.
    pub descending: bool,
    /// The sort key, evaluated per item.
    pub expr: Expr,
}

/// The constructs of the language, one variant each, with their parts.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A string literal, escapes decoded. `quoted` paths steps never use this: a string literal
    /// used as a path step becomes [`ExprKind::Name`] with `quoted: true`, as in the reference.
    String(String),
    /// A number literal; a unary minus on a number literal is folded into it (`-1`, `--1`).
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`
    Null,
    /// A field name: unquoted (`email`), backtick (`` `first name` ``) or a string literal used
    /// as a path step (`"first name"` in `a."first name"`). `and`, `or`, `in` in operand position
    /// are names too.
    Name {
        /// The name, quotes removed and escapes decoded.
        name: String,
        /// Written in backticks or as a string literal rather than bare.
        quoted: bool,
    },
    /// A variable: `$x` has name `"x"`, the context `$` has name `""`, the root `$$` has name `"$"`.
    Variable(String),
    /// `/pattern/flags`
    Regex {
        /// The text between the slashes.
        pattern: String,
        /// The flags after the closing slash (`i`, `m`), possibly empty.
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
        /// The sequence being grouped.
        expr: Box<Expr>,
        /// The `k: v` pairs of the constructor.
        pairs: Vec<Pair>,
        /// The `{ ... }` part.
        brace: Span,
    },
    /// `lhs op rhs`; `op_span` is the operator token.
    Binary {
        /// The operator.
        op: BinOp,
        /// The operator token.
        op_span: Span,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// Unary minus on anything but a number literal (`-a`, `-(1)`).
    Negate(Box<Expr>),
    /// `cond ? then : else`; `question` is the `?` token.
    Condition {
        /// The condition.
        cond: Box<Expr>,
        /// The value when the condition is truthy.
        then: Box<Expr>,
        /// The value otherwise; `None` when `: else` is left out (the result is then undefined).
        otherwise: Option<Box<Expr>>,
        /// The `?` token.
        question: Span,
    },
    /// `$name := value`
    Bind {
        /// The left-hand side (a [`ExprKind::Variable`] in a valid program).
        var: Box<Expr>,
        /// The bound value.
        value: Box<Expr>,
        /// The `:=` token.
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
        /// The sequence filtered.
        expr: Box<Expr>,
        /// The predicate, or an index when it is a number.
        predicate: Box<Expr>,
        /// The `[ ... ]` part.
        bracket: Span,
    },
    /// `expr[]`; `bracket` is the `[]` part.
    KeepArray {
        /// The expression whose result stays an array even with one item.
        expr: Box<Expr>,
        /// The `[]` part.
        bracket: Span,
    },
    /// `expr^( terms )`; `caret` is the `^( ... )` part.
    Sort {
        /// The sequence sorted.
        expr: Box<Expr>,
        /// The sort keys, most significant first.
        terms: Vec<SortTerm>,
        /// The `^( ... )` part.
        caret: Span,
    },
    /// `expr@$var`; `at` is the `@$var` part.
    Focus {
        /// The step whose items are bound.
        expr: Box<Expr>,
        /// The variable's name without its `$`.
        var: String,
        /// The `@$var` part.
        at: Span,
    },
    /// `expr#$var`; `hash` is the `#$var` part.
    Index {
        /// The step whose positions are bound.
        expr: Box<Expr>,
        /// The variable's name without its `$`.
        var: String,
        /// The `#$var` part.
        hash: Span,
    },
    /// `( a; b; ... )`, also plain parentheses `(a)`.
    Block(Vec<Expr>),
    /// `| pattern | update [, delete] |`
    Transform {
        /// Selects the objects to change.
        pattern: Box<Expr>,
        /// The object of fields merged into each selected object.
        update: Box<Expr>,
        /// The keys removed from each selected object, when given.
        delete: Option<Box<Expr>>,
    },
    /// `function($a, $b){ body }` or `λ(...){...}`, with an optional signature `<...>`.
    Lambda {
        /// The parameter names without their `$`, in order.
        params: Vec<String>,
        /// The function body.
        body: Box<Expr>,
    },
    /// `callee(args)`; `callee` is usually a variable (`$number`). `paren` is the `(` token.
    Call {
        /// The function called.
        callee: Box<Expr>,
        /// The arguments, in order.
        args: Vec<Expr>,
        /// The `(` token.
        paren: Span,
    },
    /// `?` as an argument (partial application).
    Placeholder,
}

impl Expr {
    /// A node of kind `kind` covering `span`.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// Whether this is the root variable `$$`.
    pub fn is_root(&self) -> bool {
        matches!(&self.kind, ExprKind::Variable(v) if v == "$")
    }
}
