//! A JSON input read straight into what the VM consumes: a flat table of nodes over the input
//! text, strings borrowed from it, with no tree of `serde_json::Value`s (one allocation per
//! node, an index map per object) to build and free.
//!
//! It reads what `JSON.parse` reads, as the reference sees it: object keys in the order of their
//! first appearance, a repeated key taking the value of its last appearance (in the first's
//! position); integer tokens exact (as [`super::json::write_number`] prints them), every other
//! number correctly rounded to a double.
//!
//! [`Input::parse`] accepts a subset of what `serde_json` accepts and gives up (`None`) on
//! anything else: malformed text, a lone surrogate, a number out of range, nesting deeper than
//! [`MAX_NESTING`], an input of 4 GiB or more. The caller then parses with `serde_json`, which
//! reports the error with its position, or accepts the rare valid input this reader leaves to
//! it. So errors and edge cases keep one implementation, and this one only has to be right on
//! what it accepts.

use super::json;

/// Deepest nesting of arrays and objects read here (`serde_json` allows 128; deeper valid
/// inputs go to it).
pub const MAX_NESTING: usize = 100;

/// One value of the input.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    /// An integer token that fits `i64`.
    Int(i64),
    /// An integer token above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// Any other number.
    Num(f64),
    /// A string without escapes: `len` bytes of the input text from `start`.
    Str {
        start: u32,
        len: u32,
    },
    /// A string with escapes: `len` bytes of the unescaped text from `start`.
    Esc {
        start: u32,
        len: u32,
    },
    /// An array: `len` node indices in `kids` from `first`.
    Arr {
        first: u32,
        len: u32,
    },
    /// An object: `len` pairs (key node, value node) in `kids` from `first`, keys distinct.
    Obj {
        first: u32,
        len: u32,
    },
}

/// A parsed JSON input. Node indices are `u32`.
#[derive(Debug)]
pub struct Input<'t> {
    text: &'t str,
    /// Strings that had escapes, unescaped, one after another.
    unescaped: String,
    nodes: Vec<Node>,
    /// Children of containers, each container's contiguous.
    kids: Vec<u32>,
}

/// A reference to one node of an [`Input`].
pub type NodeId = u32;

/// What a node is, as the VM reads it: scalars by value, containers by reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Item<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer token that fits `i64`.
    Int(i64),
    /// An integer token above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// Any other number.
    Num(f64),
    /// A string.
    Str(&'a str),
    /// An array with this many items.
    Arr(usize),
    /// An object with this many (distinct) keys.
    Obj(usize),
}

impl<'t> Input<'t> {
    /// Reads `text` (one JSON value, whitespace around it allowed); `None` when it is not in
    /// what this reader accepts (see the module doc): parse it with `serde_json` then.
    pub fn parse(text: &'t str) -> Option<Input<'t>> {
        if text.len() >= u32::MAX as usize {
            return None;
        }
        // A record of the usual input takes about one node per 20 bytes.
        let mut p = Parser {
            b: text.as_bytes(),
            i: 0,
            input: Input {
                text,
                unescaped: String::new(),
                nodes: Vec::with_capacity(text.len() / 20 + 1),
                kids: Vec::with_capacity(text.len() / 20 + 1),
            },
            scratch: Vec::new(),
            keys: [[NO_KEY; KEY_POSITIONS]; KEY_DEPTHS],
            distinct: [0; KEY_DEPTHS],
        };
        p.ws();
        p.value(0)?;
        p.ws();
        if p.i != p.b.len() {
            return None;
        }
        Some(p.input)
    }

    /// The root value.
    pub fn root(&self) -> NodeId {
        // Containers are pushed after their children: the root is the last node.
        (self.nodes.len() - 1) as NodeId
    }

    /// What node `id` is.
    #[inline]
    pub fn get(&self, id: NodeId) -> Item<'_> {
        match self.nodes[id as usize] {
            Node::Null => Item::Null,
            Node::Bool(b) => Item::Bool(b),
            Node::Int(i) => Item::Int(i),
            Node::UInt(u) => Item::UInt(u),
            Node::Num(f) => Item::Num(f),
            Node::Str { .. } | Node::Esc { .. } => Item::Str(self.str(id)),
            Node::Arr { len, .. } => Item::Arr(len as usize),
            Node::Obj { len, .. } => Item::Obj(len as usize),
        }
    }

    /// The string of a string node.
    #[inline]
    fn str(&self, id: NodeId) -> &str {
        self.node_str(self.nodes[id as usize])
    }

    /// The string of `node` (empty for a node that is not a string).
    #[inline]
    fn node_str(&self, node: Node) -> &str {
        match node {
            Node::Str { start, len } => &self.text[start as usize..(start + len) as usize],
            Node::Esc { start, len } => &self.unescaped[start as usize..(start + len) as usize],
            _ => "",
        }
    }

    /// Item `i` of array node `id` (`i` below its length).
    #[inline]
    pub fn item(&self, id: NodeId, i: usize) -> NodeId {
        match self.nodes[id as usize] {
            Node::Arr { first, .. } => self.kids[first as usize + i],
            _ => unreachable!("item of a non-array"),
        }
    }

    /// The pairs of object node `id`, in the reference's insertion order (no pairs when it is
    /// not an object).
    #[inline]
    pub fn pairs(&self, id: NodeId) -> impl Iterator<Item = (&str, NodeId)> + Clone + '_ {
        let kids: &[u32] = match self.nodes[id as usize] {
            Node::Obj { first, len } => &self.kids[first as usize..(first + 2 * len) as usize],
            _ => &[],
        };
        kids.chunks_exact(2).map(|p| (self.str(p[0]), p[1]))
    }

    /// The value of key `name` in object node `id`.
    #[inline]
    pub fn field(&self, id: NodeId, name: &str) -> Option<NodeId> {
        self.pairs(id).find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// Appends node `id` as `JSON.stringify` writes it (array-index keys first, as JavaScript
    /// enumerates them).
    pub fn write(&self, out: &mut Vec<u8>, id: NodeId) {
        match self.get(id) {
            Item::Null => out.extend_from_slice(b"null"),
            Item::Bool(true) => out.extend_from_slice(b"true"),
            Item::Bool(false) => out.extend_from_slice(b"false"),
            Item::Int(i) => json::write_i64(out, i),
            Item::UInt(u) => json::write_u64(out, u),
            Item::Num(f) => json::write_f64(out, f),
            Item::Str(s) => json::write_str(out, s),
            Item::Arr(n) => {
                out.push(b'[');
                for i in 0..n {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(out, self.item(id, i));
                }
                out.push(b']');
            }
            Item::Obj(_) => {
                out.push(b'{');
                // The pairs are collected only for an object whose keys JavaScript reorders
                // (array-index keys first), which is rare: no allocation per object otherwise.
                let order = json::js_key_order(self.pairs(id).map(|(k, _)| k));
                let mut write_pair = |i: usize, (k, v): (&str, NodeId)| {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::write_str(out, k);
                    out.push(b':');
                    self.write(out, v);
                };
                match order {
                    None => self.pairs(id).enumerate().for_each(|(i, p)| write_pair(i, p)),
                    Some(order) => {
                        let pairs: Vec<(&str, NodeId)> = self.pairs(id).collect();
                        order.iter().enumerate().for_each(|(i, &pos)| write_pair(i, pairs[pos]));
                    }
                }
                out.push(b'}');
            }
        }
    }
}

struct Parser<'t> {
    b: &'t [u8],
    i: usize,
    input: Input<'t>,
    /// Children of the containers being read, innermost last.
    scratch: Vec<u32>,
    /// The key node last read at each member position of an object, by depth: the records of a
    /// document repeat their keys in the same order, and a key equal to the one at its position
    /// in the previous object of its depth reuses that node. So 200,000 records of six fields
    /// hold six key nodes, not 1.2 million (BENCHMARKS.md, "The JSON input path").
    keys: [[u32; KEY_POSITIONS]; KEY_DEPTHS],
    /// How many of the first keys remembered at each depth are known to be distinct strings:
    /// an object whose keys are those (all of them found there) has no repeated key to look for.
    distinct: [usize; KEY_DEPTHS],
}

/// Member positions and nesting depths whose keys [`Parser::key`] remembers (the first few of
/// each object, in the outer few levels: a record's fields).
const KEY_POSITIONS: usize = 16;
const KEY_DEPTHS: usize = 8;
/// No key remembered at a position yet.
const NO_KEY: u32 = u32::MAX;

impl Parser<'_> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn push(&mut self, node: Node) -> u32 {
        self.input.nodes.push(node);
        (self.input.nodes.len() - 1) as u32
    }

    /// Reads one value at `self.i` (no whitespace before it); its node index.
    fn value(&mut self, depth: usize) -> Option<u32> {
        match *self.b.get(self.i)? {
            b'"' => {
                let node = self.string()?;
                Some(self.push(node))
            }
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.word(b"true", Node::Bool(true)),
            b'f' => self.word(b"false", Node::Bool(false)),
            b'n' => self.word(b"null", Node::Null),
            b'-' | b'0'..=b'9' => {
                let node = self.number()?;
                Some(self.push(node))
            }
            _ => None,
        }
    }

    fn word(&mut self, word: &[u8], node: Node) -> Option<u32> {
        if !self.b[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        Some(self.push(node))
    }

    fn array(&mut self, depth: usize) -> Option<u32> {
        if depth > MAX_NESTING {
            return None;
        }
        self.i += 1; // [
        let mark = self.scratch.len();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
        } else {
            loop {
                let v = self.value(depth)?;
                self.scratch.push(v);
                if self.member_end(b']')? {
                    break;
                }
            }
        }
        let (first, len) = self.take_kids(mark);
        Some(self.push(Node::Arr { first, len }))
    }

    fn object(&mut self, depth: usize) -> Option<u32> {
        if depth > MAX_NESTING {
            return None;
        }
        self.i += 1; // {
        let mark = self.scratch.len();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
        } else {
            let mut position = 0;
            loop {
                if self.b.get(self.i) != Some(&b'"') {
                    return None;
                }
                let key = self.string()?;
                let key = self.key(depth, position, key);
                position += 1;
                self.ws();
                if self.b.get(self.i) != Some(&b':') {
                    return None;
                }
                self.i += 1;
                self.ws();
                let v = self.value(depth)?;
                self.scratch.extend_from_slice(&[key, v]);
                if self.member_end(b'}')? {
                    break;
                }
            }
        }
        // Every key of an object this shallow and small went through `keys`, so its key nodes
        // are the first `n` remembered at its depth.
        let n = (self.scratch.len() - mark) / 2;
        let remembered = depth < KEY_DEPTHS && n <= KEY_POSITIONS;
        if !remembered || n > self.distinct[depth] {
            let distinct = self.dedupe(mark);
            if remembered && distinct {
                self.distinct[depth] = n;
            }
        }
        let (first, len) = self.take_kids(mark);
        Some(self.push(Node::Obj { first, len: len / 2 }))
    }

    /// The node of key `node`, read at member `position` of an object at `depth`: the node of
    /// the key remembered there when it is the same string (the new one is dropped), else `node`
    /// pushed and remembered.
    #[inline]
    fn key(&mut self, depth: usize, position: usize, node: Node) -> u32 {
        let Some(slot) = self.keys.get(depth).and_then(|keys| keys.get(position)).copied() else {
            return self.push(node);
        };
        if slot != NO_KEY && self.input.str(slot) == self.input.node_str(node) {
            if let Node::Esc { start, .. } = node {
                // Its unescaped text was the last thing appended: take it back.
                self.input.unescaped.truncate(start as usize);
            }
            return slot;
        }
        let id = self.push(node);
        self.keys[depth][position] = id;
        self.distinct[depth] = self.distinct[depth].min(position);
        id
    }

    /// After a member: `,` and white space (another member follows: `false`), or `close` (the
    /// container ends: `true`); anything else is not JSON.
    #[inline]
    fn member_end(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let c = *self.b.get(self.i)?;
        self.i += 1;
        match c {
            b',' => {
                self.ws();
                Some(false)
            }
            c if c == close => Some(true),
            _ => None,
        }
    }

    /// Moves a container's children, gathered in `scratch` since `mark`, to the node table's
    /// child list: where they start there, and how many entries they take.
    #[inline]
    fn take_kids(&mut self, mark: usize) -> (u32, u32) {
        let first = self.input.kids.len() as u32;
        let len = (self.scratch.len() - mark) as u32;
        self.input.kids.extend_from_slice(&self.scratch[mark..]);
        self.scratch.truncate(mark);
        (first, len)
    }

    /// `JSON.parse` on a repeated key: the last value, in the first key's position.
    /// Whether the keys were distinct already.
    fn dedupe(&mut self, mark: usize) -> bool {
        let n = (self.scratch.len() - mark) / 2;
        if n < 2 {
            return true;
        }
        let input = &self.input;
        let pairs = &mut self.scratch[mark..];
        let key = |pairs: &[u32], i: usize| input.str(pairs[2 * i]);
        let mut kept = 0; // pairs[..2 * kept] are the distinct keys so far
        if n <= 32 {
            for j in 0..n {
                match (0..kept).find(|&i| key(pairs, i) == key(pairs, j)) {
                    Some(i) => pairs[2 * i + 1] = pairs[2 * j + 1],
                    None => {
                        pairs.copy_within(2 * j..2 * j + 2, 2 * kept);
                        kept += 1;
                    }
                }
            }
        } else {
            let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(n);
            let mut out: Vec<u32> = Vec::with_capacity(2 * n);
            for j in 0..n {
                let k = key(pairs, j);
                match seen.get(k) {
                    Some(&i) => out[2 * i + 1] = pairs[2 * j + 1],
                    None => {
                        seen.insert(k, kept);
                        out.extend_from_slice(&pairs[2 * j..2 * j + 2]);
                        kept += 1;
                    }
                }
            }
            pairs[..2 * kept].copy_from_slice(&out);
        }
        self.scratch.truncate(mark + 2 * kept);
        kept == n
    }

    /// A string at `self.i` (its opening quote): borrowed when it has no escapes.
    fn string(&mut self) -> Option<Node> {
        self.i += 1; // "
        let start = self.i;
        // The clean run: everything up to a quote, a backslash or a control character.
        loop {
            let block = self.b.get(self.i..self.i + 16);
            match block {
                Some(block) if !json::block_needs_escape(block.try_into().expect("sixteen bytes")) => self.i += 16,
                _ => break,
            }
        }
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    let node = Node::Str { start: start as u32, len: (self.i - start) as u32 };
                    self.i += 1;
                    return Some(node);
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        // Escapes: unescape the whole string into the side buffer.
        let from = self.input.unescaped.len();
        self.input.unescaped.push_str(std::str::from_utf8(&self.b[start..self.i]).ok()?);
        loop {
            let run = self.i;
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The text is a `str` and the run ends at an ASCII byte: a whole UTF-8 run.
            self.input.unescaped.push_str(std::str::from_utf8(&self.b[run..self.i]).ok()?);
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    let len = self.input.unescaped.len() - from;
                    return Some(Node::Esc { start: from as u32, len: len as u32 });
                }
                b'\\' => {
                    let c = self.escape()?;
                    self.input.unescaped.push(c);
                }
                _ => return None, // a control character
            }
        }
    }

    /// One escape at `self.i` (its backslash); a lone surrogate gives up.
    fn escape(&mut self) -> Option<char> {
        let c = *self.b.get(self.i + 1)?;
        self.i += 2;
        Some(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if (0xdc00..0xe000).contains(&hi) {
                    return None;
                }
                if (0xd800..0xdc00).contains(&hi) {
                    if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                        return None;
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&lo) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// A number at `self.i`, in JSON's grammar: integer tokens exact when they fit 64 bits,
    /// everything else correctly rounded (Rust's `f64` parsing, as `serde_json`'s
    /// `float_roundtrip` and JavaScript do); out of range gives up.
    fn number(&mut self) -> Option<Node> {
        let start = self.i;
        let negative = self.b[self.i] == b'-';
        if negative {
            self.i += 1;
        }
        let digits_start = self.i;
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = self.b.get(self.i) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        let int_end = self.i;
        let mut integer = true;
        if self.b.get(self.i) == Some(&b'.') {
            integer = false;
            self.i += 1;
            let from = self.i;
            while let Some(b'0'..=b'9') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.i == from {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            integer = false;
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            let from = self.i;
            while let Some(b'0'..=b'9') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.i == from {
                return None;
            }
        }
        // serde_json rejects a digit right after a leading zero ("01").
        if self.b[digits_start] == b'0'
            && int_end == digits_start + 1
            && matches!(self.b.get(self.i), Some(b'0'..=b'9'))
        {
            return None;
        }
        let token = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        if integer && int_end - digits_start <= 19 {
            // At most 19 digits: fits u64 without overflow.
            let mut m: u64 = 0;
            for &d in &self.b[digits_start..int_end] {
                m = m * 10 + u64::from(d - b'0');
            }
            if !negative {
                return Some(if m <= i64::MAX as u64 { Node::Int(m as i64) } else { Node::UInt(m) });
            }
            // serde_json: "-0" is a float, and a negative beyond i64 rounds to a double.
            if m != 0 && m <= 1 << 63 {
                return Some(Node::Int((m as i64).wrapping_neg()));
            }
        } else if integer
            && !negative
            && int_end - digits_start == 20
            && let Ok(u) = token.parse::<u64>()
        {
            // Twenty digits are at least 10^19, above i64::MAX.
            return Some(Node::UInt(u));
        }
        let f: f64 = token.parse().ok()?;
        f.is_finite().then_some(Node::Num(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> Option<String> {
        let input = Input::parse(text)?;
        let mut out = Vec::new();
        input.write(&mut out, input.root());
        Some(String::from_utf8(out).unwrap())
    }

    /// What the `serde_json` path writes for the same text.
    fn through_serde(text: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut out = Vec::new();
        json::write_value(&mut out, &v);
        Some(String::from_utf8(out).unwrap())
    }

    #[test]
    fn reads_as_the_serde_json_path_does() {
        for text in [
            "null",
            " true ",
            "false",
            "0",
            "-0",
            "-0.0",
            "1.0",
            "1e2",
            "1E-2",
            "1e-400",
            "0.1",
            "123456789012345678",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901234567890",
            "-9223372036854775808",
            "-9223372036854775809",
            "-18446744073709551615",
            "-99999999999999999999",
            "2.2250738585072011e-308",
            "1.7976931348623157e308",
            "0.30000000000000004441",
            "\"\"",
            "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
            "\"\\u00e9\\u0041\\ud83d\\ude00 é😀\"",
            "\"\\u2028x\\u0000\"",
            "[]",
            "{}",
            "[1,[2,[3,{}]],{\"a\":[]}]",
            "{\"b\":1,\"a\":2,\"2\":3,\"1\":4,\"01\":5}",
            "{\"a\":1,\"b\":2,\"a\":3}",
            "{\"a\":{\"x\":1},\"a\":[2],\"c\":3,\"c\":null}",
            "{\"k\\u0061\":1,\"ka\":2}",
            " \t\r\n{ \"a\" : [ 1 , 2 ] } \n",
        ] {
            assert_eq!(written(text), through_serde(text), "{text}");
            assert!(written(text).is_some(), "{text}");
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_first_position_and_last_value() {
        let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        let text = format!("{{{many}\"k3\":\"last\",\"k0\":[0]}}");
        let got = written(&text).unwrap();
        assert_eq!(got, through_serde(&text).unwrap());
        assert!(got.starts_with("{\"k0\":[0],\"k1\":1,\"k2\":2,\"k3\":\"last\",\"k4\":4"), "{got}");
        assert_eq!(written("{\"a\":1,\"b\":2,\"a\":3}").unwrap(), "{\"a\":3,\"b\":2}");
    }

    #[test]
    fn gives_up_on_what_it_leaves_to_serde_json() {
        for text in [
            "",
            " ",
            "1e400",
            "-1e400",
            "01",
            "-01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "nul",
            "truex",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "{\"a\" 1}",
            "\"a",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\u12\"",
            "\"a\u{1}b\"",
            "\"\tb\"",
            "1 2",
            "[",
        ] {
            assert_eq!(written(text), None, "{text:?}");
        }
        // Nesting: up to MAX_NESTING here; deeper is serde_json's to accept (up to 128) or
        // refuse.
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(written(&deep(MAX_NESTING)).is_some());
        assert_eq!(written(&deep(MAX_NESTING + 1)), None);
        assert!(through_serde(&deep(MAX_NESTING + 1)).is_some());
    }

    #[test]
    fn records_repeating_their_keys_share_the_key_nodes() {
        let records: Vec<String> =
            (0..100).map(|i| format!("{{\"id\":{i},\"name\":\"n{i}\",\"email\":\"e{i}\"}}")).collect();
        let text = format!("{{\"records\":[{}],\"connection\":{{\"id\":\"x\"}}}}", records.join(","));
        let input = Input::parse(&text).unwrap();
        // Three key nodes for the records, 300 values, 100 objects, the array; "records",
        // "connection", its "id" (a key at another depth), "x", that object and the root.
        assert_eq!(input.nodes.len(), 3 + 300 + 100 + 1 + 6);
        assert_eq!(written(&text), through_serde(&text));
        let records = input.field(input.root(), "records").unwrap();
        let last = input.item(records, 99);
        let pairs: Vec<(&str, Item<'_>)> = input.pairs(last).map(|(k, v)| (k, input.get(v))).collect();
        assert_eq!(pairs, [("id", Item::Int(99)), ("name", Item::Str("n99")), ("email", Item::Str("e99"))]);
    }

    #[test]
    fn keys_that_change_from_object_to_object_read_as_the_serde_json_path_does() {
        let wide: String = (0..20).map(|i| format!("\"k{i}\":{i},")).collect();
        let deep = |key: &str| format!("{}{{\"{key}\":1}}{}", "{\"a\":".repeat(10), "}".repeat(10));
        for text in [
            // Reordered, missing, added, and escaped spellings of the same key.
            "[{\"a\":1,\"b\":2},{\"b\":3,\"a\":4},{\"a\":5},{\"a\":6,\"b\":7,\"c\":8},{\"\\u0061\":9,\"b\":10}]"
                .to_string(),
            "[{\"\\u0061\\n\":1},{\"a\\n\":2},{\"a\\u000a\":3,\"\\u0062\":4},{\"a\\n\":5,\"b\":6}]".to_string(),
            // A key repeated inside an object, the same in the next, after objects without one.
            "[{\"a\":1,\"b\":2,\"a\":3},{\"a\":4,\"b\":5,\"a\":6},{\"b\":7,\"a\":8}]".to_string(),
            "[{\"a\":1,\"b\":2},{\"a\":3,\"b\":4,\"a\":5},{\"a\":6,\"b\":7},{\"a\":8,\"b\":9,\"a\":10},{\"a\":0}]"
                .to_string(),
            "[{\"a\":1,\"b\":2},{\"b\":3,\"a\":4},{\"b\":5,\"b\":6},{\"b\":7,\"a\":8},{\"a\":9,\"a\":10}]".to_string(),
            "[{\"a\":1,\"b\":2,\"c\":3},{\"a\":4,\"b\":5,\"a\":6},{\"a\":7,\"b\":8,\"c\":9}]".to_string(),
            // Objects nested at the same depth with other keys, and a key equal to its parent's.
            "[{\"a\":{\"x\":1},\"b\":{\"y\":2}},{\"a\":{\"y\":3},\"b\":{\"a\":4}},{\"a\":{\"x\":5}}]".to_string(),
            // Positions and depths beyond those remembered.
            format!("[{{{wide}\"z\":0}},{{{wide}\"z\":1}},{{\"z\":2,{wide}\"y\":3}}]"),
            format!("[{},{},{}]", deep("p"), deep("q"), deep("p")),
        ] {
            assert_eq!(written(&text), through_serde(&text), "{text}");
            assert!(written(&text).is_some(), "{text}");
        }
    }

    #[test]
    fn long_strings_cross_the_sixteen_byte_scan() {
        for len in 0..40 {
            for tail in ["", "\\n", "é", "\\u00e9x"] {
                let text = format!("\"{}{tail}\"", "a".repeat(len));
                assert_eq!(written(&text), through_serde(&text), "{text}");
            }
        }
    }
}
