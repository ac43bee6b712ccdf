//! The JSON of the KMS JSON 1.1 API, by hand: request objects of strings, and a strict
//! RFC 8259 reader that reports one object's string members and validates and skips the rest.
//! serde_json + serde derive (and the float formatting they pulled in) cost ~25 KB gzip of the
//! wasm package for these few shapes.
//!
//! The writer's bytes equal serde_json's (`to_writer`) for the same fields. The reader refuses
//! anything serde_json refuses (bad grammar, bad escapes, lone surrogates, control characters,
//! trailing data, nesting beyond [`MAX_DEPTH`]) and also invalid UTF-8 anywhere. It does not
//! bound the magnitude of numbers it skips (serde_json refuses `1e400`).

use std::borrow::Cow;
use std::fmt;

/// Most nested objects/arrays accepted: 127, as serde_json (its recursion limit of 128 refuses
/// the 128th level).
pub const MAX_DEPTH: usize = 127;

/// Why a body is not JSON we accept. Never quotes the input: it may carry key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// What is wrong.
    pub what: &'static str,
    /// Byte offset where it was found.
    pub at: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for JsonError {}

/// A member value the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string; borrowed from the body when it has no escapes.
    Str(Cow<'a, str>),
    /// `null`.
    Null,
    /// A number, boolean, object or array (validated, not kept).
    Other,
}

/// Parse `body` as one JSON text. When it is an object, each member whose key is in `names`
/// is passed to `member` in order as `(index in names, value)`; an `Err` from `member` stops
/// the parse with that message. Returns whether the top-level value is an object.
///
/// # Errors
/// [`JsonError`] for anything that is not a single valid JSON value.
pub fn parse_members<'a>(
    body: &'a [u8],
    names: &[&str],
    mut member: impl FnMut(usize, Value<'a>) -> Result<(), &'static str>,
) -> Result<bool, JsonError> {
    let text = std::str::from_utf8(body).map_err(|e| JsonError {
        what: "invalid UTF-8",
        at: e.valid_up_to(),
    })?;
    let mut r = Reader { s: text, i: 0 };
    r.ws();
    let is_object = r.peek() == Some(b'{');
    if is_object {
        r.i += 1;
        r.ws();
        if r.peek() == Some(b'}') {
            r.i += 1;
        } else {
            loop {
                r.ws();
                if r.peek() != Some(b'"') {
                    return Err(r.err("expected a string key"));
                }
                let key = r.string(true)?;
                r.ws();
                r.expect(b':')?;
                r.ws();
                match names.iter().position(|n| key == *n) {
                    Some(k) => {
                        let v = match r.peek() {
                            Some(b'"') => Value::Str(r.string(true)?),
                            Some(b'n') => {
                                r.literal("null")?;
                                Value::Null
                            }
                            _ => {
                                r.value(2)?;
                                Value::Other
                            }
                        };
                        member(k, v).map_err(|what| r.err(what))?;
                    }
                    None => r.value(2)?,
                }
                r.ws();
                match r.next() {
                    Some(b',') => {}
                    Some(b'}') => break,
                    _ => return Err(r.back_err("expected `,` or `}`")),
                }
            }
        }
    } else {
        r.value(1)?;
    }
    r.ws();
    if r.i < r.s.len() {
        return Err(r.err("trailing characters"));
    }
    Ok(is_object)
}

struct Reader<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        if b.is_some() {
            self.i += 1;
        }
        b
    }

    fn err(&self, what: &'static str) -> JsonError {
        JsonError { what, at: self.i }
    }

    /// An error about the byte just consumed (or the end).
    fn back_err(&self, what: &'static str) -> JsonError {
        JsonError {
            what,
            at: self.i.saturating_sub(1),
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        match self.next() {
            Some(c) if c == b => Ok(()),
            None => Err(self.err("unexpected end of input")),
            Some(_) => Err(self.back_err(match b {
                b':' => "expected `:`",
                _ => "unexpected character",
            })),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        if self.s.as_bytes()[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected value"))
        }
    }

    /// Any value at nesting `depth` (the top level is 1), validated and skipped.
    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        let open = matches!(self.peek(), Some(b'{' | b'['));
        if open && depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    self.string(false)?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b'}') => return Ok(()),
                        _ => return Err(self.back_err("expected `,` or `}`")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b']') => return Ok(()),
                        _ => return Err(self.back_err("expected `,` or `]`")),
                    }
                }
            }
            Some(b'"') => self.string(false).map(drop),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            None => Err(self.err("unexpected end of input")),
            Some(_) => Err(self.err("expected value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        Ok(())
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut n = 0;
        for _ in 0..4 {
            let d = match self.next() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => return Err(self.err("unexpected end of input")),
                Some(_) => return Err(self.back_err("invalid \\u escape")),
            };
            n = n * 16 + u32::from(d);
        }
        Ok(n)
    }

    /// The char of a `\u` escape (after `\u`), joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        let c = match hi {
            0xD800..=0xDBFF => {
                if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                    return Err(self.back_err("lone leading surrogate in \\u escape"));
                }
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(self.back_err("lone leading surrogate in \\u escape"));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.back_err("lone trailing surrogate in \\u escape")),
            c => c,
        };
        char::from_u32(c).ok_or_else(|| self.back_err("invalid \\u escape"))
    }

    /// A string at `"`, fully validated. With `keep`, its value (borrowed when it has no
    /// escapes; an unescaped copy is sized up front so it never reallocates and leaves no
    /// stray copy of a secret behind); without, `""`.
    fn string(&mut self, keep: bool) -> Result<Cow<'a, str>, JsonError> {
        self.i += 1;
        let start = self.i;
        let mut run = start;
        let mut owned: Option<String> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unexpected end of input in a string"));
            };
            match b {
                b'"' => {
                    let tail = self.s.get(run..self.i).unwrap_or_default();
                    self.i += 1;
                    if !keep {
                        return Ok(Cow::Borrowed(""));
                    }
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut o) => {
                            o.push_str(tail);
                            Cow::Owned(o)
                        }
                    });
                }
                b'\\' => {
                    if keep && owned.is_none() {
                        owned = Some(String::with_capacity(self.raw_string_len(start)));
                    }
                    if let Some(o) = owned.as_mut() {
                        o.push_str(self.s.get(run..self.i).unwrap_or_default());
                    }
                    self.i += 1;
                    let c = match self.next() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        None => return Err(self.err("unexpected end of input in a string")),
                        Some(_) => return Err(self.back_err("invalid escape")),
                    };
                    if let Some(o) = owned.as_mut() {
                        o.push(c);
                    }
                    run = self.i;
                }
                0..=0x1f => return Err(self.err("control character in a string")),
                _ => self.i += 1,
            }
        }
    }

    /// Bytes from `start` to the closing quote (escaped length ≥ unescaped length).
    fn raw_string_len(&self, start: usize) -> usize {
        let b = self.s.as_bytes();
        let mut j = start;
        while j < b.len() && b[j] != b'"' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        j.min(b.len()) - start
    }
}

/// Writes a JSON object member by member into a buffer sized by the caller.
pub struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_string(self.out, key);
        self.out.push(b':');
    }

    /// `"key":"value"`.
    pub fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_string(self.out, value);
    }

    /// `"key":123`.
    pub fn number(&mut self, key: &str, value: u64) {
        self.key(key);
        let mut digits = [0u8; 20];
        let mut n = value;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&digits[i..]);
    }

    /// `"key":{"k":"v",…}`.
    pub fn string_map<'s>(&mut self, key: &str, pairs: impl Iterator<Item = (&'s str, &'s str)>) {
        self.key(key);
        let mut inner = ObjectWriter::new(self.out);
        for (k, v) in pairs {
            inner.string(k, v);
        }
        inner.end();
    }

    /// `"key":["a",…]`.
    pub fn string_array(&mut self, key: &str, items: &[String]) {
        self.key(key);
        self.out.push(b'[');
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            write_string(self.out, item);
        }
        self.out.push(b']');
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// A JSON string, escaped as serde_json does: `"` `\` and control characters only (short
/// forms where JSON has them, else `\u00xx`); everything else as UTF-8.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All members named `a`, `b` as (index, value), or the error.
    fn members(body: &str) -> Result<(bool, Vec<(usize, Value<'_>)>), JsonError> {
        let mut got = Vec::new();
        let obj = parse_members(body.as_bytes(), &["a", "b"], |k, v| {
            got.push((k, v));
            Ok(())
        })?;
        Ok((obj, got))
    }

    fn s(v: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(v))
    }

    #[test]
    fn reads_wanted_members_and_skips_the_rest() {
        let body = r#" {"x": {"y": [1, -2.5e+3, true, false, null, {}, []], "z": "\u00e9"},
            "a": "A", "b": null, "a": 7, "c": "\"", "b": [{"a": "inner"}] } "#;
        let (obj, got) = members(body).unwrap_or_else(|e| panic!("{e}"));
        assert!(obj);
        assert_eq!(
            got,
            vec![
                (0, s("A")),
                (1, Value::Null),
                (0, Value::Other),
                (1, Value::Other)
            ]
        );
        assert_eq!(members("{}").map(|r| r.1.len()), Ok(0));
        for other in [
            "[]",
            "null",
            "\"a\"",
            "0",
            "-0.0E-0",
            "true",
            " [1,[2,{\"a\":3}]] ",
        ] {
            assert_eq!(members(other).map(|r| r.0), Ok(false), "{other}");
        }
    }

    #[test]
    fn strings_borrow_unless_escaped_and_decode_every_escape() {
        let (_, got) = members(
            r#"{"a":"plain é","b":"q\"b\\s\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00 end"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&got[0].1, Value::Str(Cow::Borrowed("plain é"))));
        match &got[1].1 {
            Value::Str(Cow::Owned(v)) => {
                assert_eq!(v, "q\"b\\s/\u{8}\u{c}\n\r\tAé€😀 end");
                assert!(v.capacity() >= v.len());
            }
            v => panic!("{v:?}"),
        }
        // Escaped keys match too (as serde derive does).
        let (_, got) = members(r#"{"\u0061":"x"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, vec![(0, s("x"))]);
        let (_, got) = members(r#"{"a":"\u0000"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, vec![(0, Value::Str(Cow::Owned("\0".into())))]);
    }

    #[test]
    fn hostile_json_is_refused() {
        let nest = |n: usize, open: &str, inner: &str, close: &str| {
            format!("{}{inner}{}", open.repeat(n), close.repeat(n))
        };
        for (n, ok) in [(MAX_DEPTH, true), (MAX_DEPTH + 1, false)] {
            for body in [
                nest(n, "[", "1", "]"),
                nest(n, "{\"a\":", "\"x\"", "}"),
                nest(n, "{\"c\":", "null", "}"),
            ] {
                assert_eq!(members(&body).is_ok(), ok, "{n}: {body}");
                let serde = serde_json::from_str::<serde_json::Value>(&body).is_ok();
                assert_eq!(serde, ok, "serde_json disagrees at {n}");
            }
        }
        let too_deep = nest(MAX_DEPTH + 1, "[", "", "]");
        assert_eq!(
            members(&too_deep).map(drop).map_err(|e| e.what),
            Err("nesting too deep")
        );
        assert!(members(&"[".repeat(1_000_000)).is_err());
        assert!(members(&"{\"a\":".repeat(1_000_000)).is_err());
        for bad in [
            "",
            "   ",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":\"x\"",
            "{\"a\":\"x\",}",
            "{,}",
            "{\"a\" \"x\"}",
            "{a:1}",
            "{'a':1}",
            "[1,]",
            "[1 2]",
            "{\"a\":1}{}",
            "{} x",
            "{}\u{c}",
            "\u{feff}{}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":1e+}",
            "{\"a\":+1}",
            "{\"a\":-}",
            "{\"a\":NaN}",
            "{\"a\":Infinity}",
            "{\"a\":0x10}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":True}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\ud800x\"}",
            "{\"a\":\"\\ud800\\u0041\"}",
            "{\"a\":\"\\ud800\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"c\":\"\\udc00\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"nl\nhere\"}",
            "{\"c\":\"\u{1f}\"}",
            "{\"a\":\"unterminated}",
            "{\"a\":\"\\",
            "[\"\\u",
            "{\"a\":1,\"b\":[}",
            "{\"a\":{\"b\":]}",
        ] {
            assert!(members(bad).is_err(), "accepted {bad:?}");
        }
        // Invalid UTF-8, even in a skipped member.
        let mut raw = b"{\"c\":\"".to_vec();
        raw.extend_from_slice(&[0xff, b'"', b'}']);
        assert_eq!(
            parse_members(&raw, &["a"], |_, _| Ok(())).map_err(|e| e.what),
            Err("invalid UTF-8")
        );
        // The callback's refusal stops the parse.
        let r = parse_members(b"{\"a\":1}", &["a"], |_, _| Err("no thanks"));
        assert_eq!(r.map_err(|e| e.what), Err("no thanks"));
    }

    #[test]
    fn errors_name_a_position_not_the_input() {
        let e = members("{\"a\":\"SECRET\" x}")
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.to_string(), "expected `,` or `}` at byte 14");
    }

    #[test]
    fn writer_matches_serde_json() {
        let cases = [
            "",
            "plain",
            "é€😀",
            "q\"b\\s/",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}",
            "</script>",
        ];
        for c in cases {
            let mut out = Vec::new();
            write_string(&mut out, c);
            assert_eq!(out, serde_json::to_vec(c).unwrap_or_default(), "{c:?}");
        }
        let mut out = Vec::new();
        let mut o = ObjectWriter::new(&mut out);
        o.string("K", "v\n");
        o.number("N", 0);
        o.number("M", u64::MAX);
        o.string_map("C", [("b", "2"), ("a\"", "1")].into_iter());
        o.string_map("E", std::iter::empty());
        o.string_array("G", &["g\u{1}".into(), "h".into()]);
        o.string_array("H", &[]);
        o.end();
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"K":"v\n","N":0,"M":18446744073709551615,"C":{"b":"2","a\"":"1"},"E":{},"G":["g\u0001","h"],"H":[]}"#
        );
    }

    #[test]
    fn agrees_with_serde_json_on_validity() {
        // Every prefix of a realistic body, and single-byte edits of it.
        let body = r#"{"KeyId":"arn:aws:kms:us-east-1:1:key/k","Plaintext":"AQ\/I=","Extra":[1.5e-3,{"n":null,"t":true}],"U":"\ud83d\ude00\u00e9"}"#;
        let check = |t: &[u8]| {
            let ours = parse_members(t, &["KeyId"], |_, _| Ok(())).is_ok();
            let theirs = serde_json::from_slice::<serde_json::Value>(t).is_ok();
            assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(t));
        };
        for n in 0..=body.len() {
            check(&body.as_bytes()[..n]);
        }
        for i in 0..body.len() {
            for b in [
                b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'x', b' ', 0x01,
            ] {
                let mut t = body.as_bytes().to_vec();
                t[i] = b;
                check(&t);
            }
        }
    }
}
