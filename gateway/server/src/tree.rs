//! The response tree: every subgraph answer of one request, parsed once into arenas.
//!
//! Why not `serde_json::Value`: a federated response repeats the same entities many times (every
//! review's author, every product's reviews), and most of its bytes are strings the gateway only
//! passes through. Here strings and numbers stay slices of the bytes they arrived in and are
//! written back out verbatim (the parser validated them); objects and lists live in arenas and are
//! referred to by index, so one entity answer merged into every object it represents is shared,
//! never copied, and objects are told apart by identity.

use bytes::Bytes;

/// Deepest nesting accepted in a subgraph answer: deeper is refused, not recursed into.
const MAX_DEPTH: usize = 512;

/// A slice of one of the tree's buffers: a string's raw JSON text (escapes kept, quotes not) or
/// a number's.
#[derive(Clone, Copy, Debug)]
pub struct Raw {
    buf: u32,
    start: u32,
    end: u32,
}

impl Raw {
    fn len(self) -> usize {
        (self.end - self.start) as usize
    }
}

pub type ObjId = u32;
pub type ListId = u32;

#[derive(Clone, Copy, Debug)]
pub enum Val {
    Null,
    Bool(bool),
    Num(Raw),
    Str(Raw),
    List(ListId),
    Obj(ObjId),
}

/// Why a subgraph answer was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid JSON at byte {at}")]
pub struct Malformed {
    at: usize,
}

/// Where an object's fields or a list's items are in their arena.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// An object key, interned per tree: fields are found by comparing ids, not text.
pub type KeyId = u32;

/// The data of one request: buffers, and the objects and lists parsed from them.
#[derive(Clone)]
pub struct Tree {
    bufs: Vec<Bytes>,
    /// Each object's fields, a span of `fields`; each list's items, a span of `items`. One
    /// arena per kind instead of a vector per object: a request's thousands of objects cost a
    /// few allocations, not thousands.
    objects: Vec<Span>,
    fields: Vec<(KeyId, Val)>,
    lists: Vec<Span>,
    items: Vec<Val>,
    keys: Keys,
    /// The parser's work stacks: an object's fields and a list's items are gathered here while
    /// nested values are parsed, then moved to their arena in one piece.
    field_stack: Vec<(KeyId, Val)>,
    item_stack: Vec<Val>,
    /// The response's `data` object.
    pub root: ObjId,
}

/// The interned keys: their text, and an open-addressing table of `id + 1` (0 when empty),
/// a power of two in size and at most half full.
#[derive(Clone)]
struct Keys {
    texts: Vec<Raw>,
    /// Each key's [`fingerprint`]: keys of equal length up to 8 bytes are equal when their
    /// fingerprints are.
    fingerprints: Vec<u64>,
    /// Each key's last (up to) 8 bytes: with the fingerprint, keys up to 16 bytes compare
    /// without reading their text.
    tails: Vec<u64>,
    slots: Vec<u32>,
}

impl Default for Tree {
    fn default() -> Self {
        Self {
            bufs: Vec::new(),
            objects: vec![Span { start: 0, len: 0 }],
            fields: Vec::new(),
            lists: Vec::new(),
            items: Vec::new(),
            keys: Keys {
                texts: Vec::new(),
                fingerprints: Vec::new(),
                tails: Vec::new(),
                slots: vec![0; 256],
            },
            field_stack: Vec::new(),
            item_stack: Vec::new(),
            root: 0,
        }
    }
}

/// A key's first 8 bytes and its length, in one word: most keys are short, and for them
/// comparing fingerprints is comparing keys.
fn fingerprint(key: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = key.len().min(8);
    head[..n].copy_from_slice(&key[..n]);
    u64::from_le_bytes(head) ^ (key.len() as u64).rotate_right(8)
}

/// A key's last (up to) 8 bytes, in one word.
fn tail(key: &[u8]) -> u64 {
    let mut last = [0u8; 8];
    let n = key.len().min(8);
    last[..n].copy_from_slice(&key[key.len() - n..]);
    u64::from_le_bytes(last)
}

fn slot_of(fingerprint: u64, mask: usize) -> usize {
    (fingerprint.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
}

impl Tree {
    /// Parses `bytes` (one JSON value) into the tree and keeps them for its strings. After a
    /// failure the tree holds some unreachable objects, and stays usable.
    pub fn parse(&mut self, bytes: Bytes) -> Result<Val, Malformed> {
        if let Err(err) = std::str::from_utf8(&bytes) {
            return Err(Malformed {
                at: err.valid_up_to(),
            });
        }
        if bytes.len() > u32::MAX as usize {
            return Err(Malformed { at: 0 });
        }
        let buf = u32::try_from(self.bufs.len()).expect("fewer than 4G buffers");
        self.field_stack.clear();
        self.item_stack.clear();
        // Room for what `bytes` likely holds (JSON spends about 20 bytes per field), so the
        // arenas grow once rather than by doubling and copying.
        self.fields.reserve(bytes.len() / 16);
        self.objects.reserve(bytes.len() / 64);
        self.items.reserve(bytes.len() / 64);
        self.lists.reserve(bytes.len() / 256);
        // Kept whatever happens: interned keys may point into it.
        self.bufs.push(bytes.clone());
        let mut parser = Parser {
            bytes: &bytes,
            pos: 0,
            buf,
            depth: 0,
            tree: self,
            recent: [Recent {
                len: usize::MAX,
                print: 0,
                tail: 0,
                id: 0,
            }; RECENT],
        };
        let value = parser.value()?;
        parser.skip_space();
        match parser.pos == bytes.len() {
            true => Ok(value),
            false => Err(Malformed { at: parser.pos }),
        }
    }

    /// Total size of the buffers: a hint for the response's size.
    pub fn size_hint(&self) -> usize {
        self.bufs.iter().map(Bytes::len).sum()
    }

    pub fn bytes(&self, raw: Raw) -> &[u8] {
        &self.bufs[raw.buf as usize][raw.start as usize..raw.end as usize]
    }

    pub fn fields(&self, object: ObjId) -> &[(KeyId, Val)] {
        &self.fields[self.objects[object as usize].range()]
    }

    pub fn items(&self, list: ListId) -> &[Val] {
        &self.items[self.lists[list as usize].range()]
    }

    /// A key's raw text.
    pub fn key_text(&self, key: KeyId) -> &[u8] {
        self.bytes(self.keys.texts[key as usize])
    }

    /// The id of `key`, if any object has it; keys are compared as raw text (GraphQL names
    /// need no escapes).
    pub fn key_id(&self, key: &str) -> Option<KeyId> {
        self.find_key(key.as_bytes()).ok()
    }

    /// `Ok(id)`, or `Err(slot)`: where the key would go.
    fn find_key(&self, key: &[u8]) -> Result<KeyId, usize> {
        let mask = self.keys.slots.len() - 1;
        let (print, last) = (fingerprint(key), tail(key));
        let mut slot = slot_of(print, mask);
        loop {
            match self.keys.slots[slot] {
                0 => return Err(slot),
                n => {
                    let id = n - 1;
                    let text = self.keys.texts[id as usize];
                    // Up to 16 bytes, length, fingerprint and tail are the whole key.
                    let same = self.keys.fingerprints[id as usize] == print
                        && text.len() == key.len()
                        && match key.len() <= 16 {
                            true => self.keys.tails[id as usize] == last,
                            false => self.bytes(text) == key,
                        };
                    if same {
                        return Ok(id);
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    fn intern(&mut self, raw: Raw) -> KeyId {
        let slot = match self.find_key(self.bytes(raw)) {
            Ok(id) => return id,
            Err(slot) => slot,
        };
        self.keys.texts.push(raw);
        self.keys.fingerprints.push(fingerprint(self.bytes(raw)));
        self.keys.tails.push(tail(self.bytes(raw)));
        let id = (self.keys.texts.len() - 1) as KeyId;
        self.keys.slots[slot] = id + 1;
        if self.keys.texts.len() * 2 > self.keys.slots.len() {
            let size = self.keys.slots.len() * 2;
            self.keys.slots = vec![0; size];
            for (n, print) in self.keys.fingerprints.iter().enumerate() {
                let mut slot = slot_of(*print, size - 1);
                while self.keys.slots[slot] != 0 {
                    slot = (slot + 1) & (size - 1);
                }
                self.keys.slots[slot] = n as u32 + 1;
            }
        }
        id
    }

    /// The value under `key`.
    pub fn get(&self, object: ObjId, key: &str) -> Option<Val> {
        self.get_id(object, self.key_id(key)?)
    }

    /// The value under the key `key`.
    pub fn get_id(&self, object: ObjId, key: KeyId) -> Option<Val> {
        let fields = self.fields(object);
        fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The raw text of the string under `key`, if it is one.
    pub fn get_str(&self, object: ObjId, key: &str) -> Option<&[u8]> {
        match self.get(object, key)? {
            Val::Str(raw) => Some(self.bytes(raw)),
            _ => None,
        }
    }

    /// Replaces the value of an existing `key`.
    pub fn replace(&mut self, object: ObjId, key: KeyId, value: Val) {
        let span = self.objects[object as usize];
        if let Some(field) = self.fields[span.range()]
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            field.1 = value;
        }
    }

    /// Renames `object`'s field `from` to `to`, unless it has a `to` already.
    pub fn rename(&mut self, object: ObjId, from: KeyId, to: &str) {
        let to = match self.find_key(to.as_bytes()) {
            Ok(id) => id,
            Err(_) => {
                let buf = u32::try_from(self.bufs.len()).expect("fewer than 4G buffers");
                self.bufs.push(Bytes::copy_from_slice(to.as_bytes()));
                let end = u32::try_from(to.len()).expect("a short name");
                self.intern(Raw { buf, start: 0, end })
            }
        };
        let span = self.objects[object as usize];
        let fields = &mut self.fields[span.range()];
        if fields.iter().all(|(k, _)| *k != to)
            && let Some(field) = fields.iter_mut().find(|(k, _)| *k == from)
        {
            field.0 = to;
        }
    }

    /// Deep-merges `from` into `into`: new keys are added (their values shared, not copied),
    /// objects are merged field by field, equal-length lists item by item; a `null` never
    /// replaces an object.
    pub fn merge(&mut self, into: ObjId, from: ObjId) {
        if into == from {
            return;
        }
        // Copies of `from`'s fields stay valid even if `from` moves (it never does: only
        // objects merged into move).
        for at in self.objects[from as usize].range() {
            let (key, value) = self.fields[at];
            match self.fields(into).iter().position(|(k, _)| *k == key) {
                None => self.push_field(into, (key, value)),
                Some(j) => {
                    let at = self.objects[into as usize].start as usize + j;
                    if let Some(merged) = self.merge_value(self.fields[at].1, value) {
                        let at = self.objects[into as usize].start as usize + j;
                        self.fields[at].1 = merged;
                    }
                }
            }
        }
    }

    /// Adds a field to `object`, first moving its fields to the arena's end unless they are
    /// there already (the old ones become garbage, freed with the tree).
    fn push_field(&mut self, object: ObjId, field: (KeyId, Val)) {
        let span = self.objects[object as usize];
        let end = span.range().end;
        if end != self.fields.len() {
            let start = self.fields.len() as u32;
            self.fields.extend_from_within(span.range());
            self.objects[object as usize].start = start;
        }
        self.fields.push(field);
        self.objects[object as usize].len += 1;
    }

    /// Merges `from` into `existing`; returns the value to store instead, if any.
    fn merge_value(&mut self, existing: Val, from: Val) -> Option<Val> {
        match (existing, from) {
            (Val::Obj(a), Val::Obj(b)) => self.merge(a, b),
            (Val::List(a), Val::List(b)) if a == b => {}
            (Val::List(a), Val::List(b)) if self.items(a).len() == self.items(b).len() => {
                let (a, b) = (
                    self.lists[a as usize].range(),
                    self.lists[b as usize].range(),
                );
                for (x, y) in a.zip(b) {
                    if let Some(merged) = self.merge_value(self.items[x], self.items[y]) {
                        self.items[x] = merged;
                    }
                }
            }
            (Val::Obj(_), Val::Null) => {}
            _ => return Some(from),
        }
        None
    }

    /// Writes `value` as JSON.
    pub fn write(&self, value: Val, out: &mut Vec<u8>) {
        match value {
            Val::Null => out.extend_from_slice(b"null"),
            Val::Bool(true) => out.extend_from_slice(b"true"),
            Val::Bool(false) => out.extend_from_slice(b"false"),
            Val::Num(raw) => out.extend_from_slice(self.bytes(raw)),
            Val::Str(raw) => write_raw_str(out, self.bytes(raw)),
            Val::List(list) => {
                out.push(b'[');
                for (i, item) in self.items(list).iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(*item, out);
                }
                out.push(b']');
            }
            Val::Obj(object) => {
                out.push(b'{');
                for (i, (key, item)) in self.fields(object).iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_raw_str(out, self.key_text(*key));
                    out.push(b':');
                    self.write(*item, out);
                }
                out.push(b'}');
            }
        }
    }
}

/// A step of a concrete path into the tree (for errors): an object key or a list index.
#[derive(Debug, Clone)]
pub enum Step<'p> {
    /// Borrowed from the plan or the operation: no allocation per object.
    Key(&'p str),
    Index(usize),
}

impl Step<'_> {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Key(key) => serde_json::Value::from(*key),
            Self::Index(i) => serde_json::Value::from(*i),
        }
    }
}

/// A hasher for the small keys of per-request maps (ids, addresses, short JSON): FxHash's
/// multiply-rotate, much cheaper than SipHash. Keys come from one request's own data, so keys
/// chosen to collide could only slow down that request.
#[derive(Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.write_u64(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        for &byte in chunks.remainder() {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;
pub type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FastHasher>>;

/// Where the run of string bytes from `i` that need no check ends: the first quote, backslash
/// or control character, found eight bytes at a time (string bodies are most of a subgraph
/// answer's bytes). UTF-8 was validated for the whole buffer before.
fn plain_run_end(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let zero_in = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
        let special = zero_in(word ^ (ONES * u64::from(b'"')))
            | zero_in(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Writes a string from its raw (already escaped) JSON text.
pub fn write_raw_str(out: &mut Vec<u8>, raw: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(raw);
    out.push(b'"');
}

/// A validating JSON parser into the tree's arenas (RFC 8259).
struct Parser<'b, 't> {
    bytes: &'b [u8],
    pos: usize,
    buf: u32,
    depth: usize,
    tree: &'t mut Tree,
    /// The key last seen per (depth, field position): objects of a list repeat their keys in
    /// the same order, so most keys are found here without a table lookup.
    recent: [Recent; RECENT],
}

const RECENT: usize = 64;

#[derive(Clone, Copy)]
struct Recent {
    len: usize,
    print: u64,
    tail: u64,
    id: KeyId,
}

impl Parser<'_, '_> {
    fn fail<T>(&self) -> Result<T, Malformed> {
        Err(Malformed { at: self.pos })
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        match self.peek() == Some(byte) {
            true => {
                self.pos += 1;
                Ok(())
            }
            false => self.fail(),
        }
    }

    fn raw(&self, start: usize, end: usize) -> Raw {
        // Buffers are at most a few GB: positions fit in u32, or parsing stopped earlier.
        Raw {
            buf: self.buf,
            start: start as u32,
            end: end as u32,
        }
    }

    fn value(&mut self) -> Result<Val, Malformed> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::list),
            Some(b'"') => self.string().map(Val::Str),
            Some(b't') => self.literal(b"true", Val::Bool(true)),
            Some(b'f') => self.literal(b"false", Val::Bool(false)),
            Some(b'n') => self.literal(b"null", Val::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Val::Num),
            _ => self.fail(),
        }
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Val, Malformed>) -> Result<Val, Malformed> {
        if self.depth == MAX_DEPTH {
            return self.fail();
        }
        self.depth += 1;
        self.pos += 1;
        let value = parse(self);
        self.depth -= 1;
        value
    }

    /// The id of the key `raw` (the `field`th of its object), from [`Self::recent`] if there.
    fn key(&mut self, raw: Raw, field: usize) -> KeyId {
        let text = &self.bytes[raw.start as usize..raw.end as usize];
        let (len, print, last) = (text.len(), fingerprint(text), tail(text));
        let at = (self.depth * 8 + field) % RECENT;
        let known = self.recent[at];
        // Up to 16 bytes, length, fingerprint and tail are the whole key.
        if len <= 16 && (known.len, known.print, known.tail) == (len, print, last) {
            return known.id;
        }
        let id = self.tree.intern(raw);
        self.recent[at] = Recent {
            len,
            print,
            tail: last,
            id,
        };
        id
    }

    fn object(&mut self) -> Result<Val, Malformed> {
        let mark = self.tree.field_stack.len();
        let mut field = 0;
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return self.fail();
                }
                let key = self.string()?;
                let key = self.key(key, field);
                field += 1;
                self.expect(b':')?;
                let value = self.value()?;
                self.tree.field_stack.push((key, value));
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.fail(),
                }
            }
        }
        let tree = &mut *self.tree;
        let start = tree.fields.len() as u32;
        tree.fields.extend(tree.field_stack.drain(mark..));
        let len = tree.fields.len() as u32 - start;
        tree.objects.push(Span { start, len });
        Ok(Val::Obj((self.tree.objects.len() - 1) as ObjId))
    }

    fn list(&mut self) -> Result<Val, Malformed> {
        let mark = self.tree.item_stack.len();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                let value = self.value()?;
                self.tree.item_stack.push(value);
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.fail(),
                }
            }
        }
        let tree = &mut *self.tree;
        let start = tree.items.len() as u32;
        tree.items.extend(tree.item_stack.drain(mark..));
        let len = tree.items.len() as u32 - start;
        tree.lists.push(Span { start, len });
        Ok(Val::List((self.tree.lists.len() - 1) as ListId))
    }

    /// A string at `pos` (its opening quote); its raw text between the quotes.
    fn string(&mut self) -> Result<Raw, Malformed> {
        let start = self.pos + 1;
        let mut i = start;
        loop {
            i = plain_run_end(self.bytes, i);
            match self.bytes.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    i += match self.bytes.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                        Some(b'u')
                            if self
                                .bytes
                                .get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            6
                        }
                        _ => {
                            self.pos = i;
                            return self.fail();
                        }
                    }
                }
                Some(0x00..=0x1f) | None => {
                    self.pos = i;
                    return self.fail();
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok(self.raw(start, i))
    }

    fn number(&mut self) -> Result<Raw, Malformed> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.bytes.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        if !digits(self) || (self.bytes[int_start] == b'0' && self.pos - int_start > 1) {
            return self.fail();
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return self.fail();
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if !digits(self) {
                return self.fail();
            }
        }
        Ok(self.raw(start, self.pos))
    }

    fn literal(&mut self, text: &[u8], value: Val) -> Result<Val, Malformed> {
        match self.bytes[self.pos..].starts_with(text) {
            true => {
                self.pos += text.len();
                Ok(value)
            }
            false => self.fail(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Result<String, Malformed> {
        let mut tree = Tree::default();
        let value = tree.parse(Bytes::copy_from_slice(text.as_bytes()))?;
        let mut out = Vec::new();
        tree.write(value, &mut out);
        Ok(String::from_utf8(out).expect("UTF-8 in, UTF-8 out"))
    }

    #[test]
    fn writes_back_what_it_parsed() {
        let text = r#"{"a":[1,-2.5e3,0,true,false,null],"b":"x\"\u00e9\n","c":{},"d":[],"é":"ü"}"#;
        assert_eq!(round_trip(text).expect("valid"), text);
        assert_eq!(
            round_trip(" { \"a\" : [ 1 , 2 ] } \n").expect("valid"),
            r#"{"a":[1,2]}"#
        );
    }

    #[test]
    fn long_strings_keep_every_escape_and_refuse_control_characters() {
        // Escapes, quotes and control characters at every offset of the 8-byte scan.
        for at in 0..20 {
            let pad = "é".repeat(at / 2) + &"a".repeat(at % 2);
            for special in ["\\\"", "\\\\", "\\n", "\\u00e9"] {
                let text = format!("[\"{pad}{special}{pad}xxxxxxxxxxxxxxxx\"]");
                assert_eq!(round_trip(&text).ok(), Some(text.clone()));
            }
            let bad = format!("\"{pad}\u{1f}xxxxxxxxxxxxxxxxxxxx\"");
            assert!(
                round_trip(&bad).is_err(),
                "{bad:?} holds a control character"
            );
        }
    }

    #[test]
    fn keys_alike_at_one_place_stay_apart() {
        // Same place in successive objects, same length, same first and last bytes.
        let text = r#"[{"abcdefgh_1":1},{"abcdefgh_2":2},{"abcdefgh_1":3},
            {"aaaaaaaaXaaaaaaaaa":4},{"aaaaaaaaYaaaaaaaaa":5},{"abcdefgh_2x":6}]"#;
        let mut tree = Tree::default();
        let Ok(Val::List(list)) = tree.parse(Bytes::from_static(text.as_bytes())) else {
            panic!("a list");
        };
        let keys = [
            "abcdefgh_1",
            "abcdefgh_2",
            "abcdefgh_1",
            "aaaaaaaaXaaaaaaaaa",
            "aaaaaaaaYaaaaaaaaa",
            "abcdefgh_2x",
        ];
        for (n, key) in keys.iter().enumerate() {
            let Val::Obj(object) = tree.items(list)[n] else {
                panic!("an object");
            };
            let Some(Val::Num(raw)) = tree.get(object, key) else {
                panic!("{key} in object {n}");
            };
            assert_eq!(tree.bytes(raw), (n + 1).to_string().as_bytes());
        }
        assert_eq!(tree.key_id("abcdefgh_1"), tree.key_id("abcdefgh_1"));
        assert_ne!(tree.key_id("abcdefgh_1"), tree.key_id("abcdefgh_2"));
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            "tru",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\u{1}\"",
            "{a:1}",
            "[1] 2",
            "nul",
        ] {
            assert!(round_trip(bad).is_err(), "{bad:?} is not JSON");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(round_trip(&deep).is_err(), "too deep");
        let mut tree = Tree::default();
        assert!(
            tree.parse(Bytes::from_static(b"\"\xff\"")).is_err(),
            "not UTF-8"
        );
    }

    #[test]
    fn finds_every_key_among_many() {
        let fields: Vec<String> = (0..1000)
            .map(|i| format!("\"a_long_shared_prefix_{i}\":{i},\"k{i}\":{i}"))
            .collect();
        let text = format!("{{{}}}", fields.join(","));
        let mut tree = Tree::default();
        let Ok(Val::Obj(object)) = tree.parse(Bytes::from(text)) else {
            panic!("an object")
        };
        for i in [0, 7, 99, 500, 999] {
            for key in [format!("a_long_shared_prefix_{i}"), format!("k{i}")] {
                let Some(Val::Num(raw)) = tree.get(object, &key) else {
                    panic!("{key} is there")
                };
                assert_eq!(tree.bytes(raw), i.to_string().as_bytes());
            }
        }
        assert!(tree.get(object, "a_long_shared_prefix_1000").is_none());
        assert!(tree.get(object, "k").is_none());
    }

    #[test]
    fn merges_by_sharing_and_keeps_objects_over_nulls() {
        let mut tree = Tree::default();
        let Val::Obj(into) = tree
            .parse(Bytes::from_static(
                br#"{"id":"1","a":{"x":1},"l":[{"p":1}]}"#,
            ))
            .expect("valid")
        else {
            panic!("an object")
        };
        let Val::Obj(from) = tree
            .parse(Bytes::from_static(
                br#"{"a":null,"b":{"y":2},"l":[{"q":2}],"id":"1"}"#,
            ))
            .expect("valid")
        else {
            panic!("an object")
        };
        tree.merge(into, from);
        tree.merge(into, from);
        let mut out = Vec::new();
        tree.write(Val::Obj(into), &mut out);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            r#"{"id":"1","a":{"x":1},"l":[{"p":1,"q":2}],"b":{"y":2}}"#
        );
        assert!(
            matches!((tree.get(into, "b"), tree.get(from, "b")), (Some(Val::Obj(a)), Some(Val::Obj(b))) if a == b),
            "merged objects are shared, not copied"
        );
    }
}
