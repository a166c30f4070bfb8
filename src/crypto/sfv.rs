//! A small RFC 8941 Structured Field Values parser and strict serializer.
//!
//! Enough for HTTP Message Signatures (RFC 9421) and digests (RFC 9530): Items, Inner Lists,
//! Parameters, Lists and Dictionaries of Integers, Decimals, Strings, Tokens, Byte Sequences and
//! Booleans. The RFC 9651 Date and Display String types are not supported (they fail to parse).
//!
//! Parsing never panics: every malformed input is an [`SfvError`]. The `*_raw` parsers keep
//! repeated Dictionary keys and Parameter keys (RFC 8941 says the last one wins), so that callers
//! which must refuse duplicates (signature labels) can see them; [`parse_dictionary`],
//! [`parse_list`] and [`parse_item`] apply the RFC's "last one wins, first position" rule.

use base64::Engine;

/// A bare item (RFC 8941 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BareItem {
    /// An Integer, at most 15 digits.
    Integer(i64),
    /// A Decimal, in thousandths (`1.5` is `Decimal(1500)`): exactly what the format can hold.
    Decimal(i64),
    /// A String: printable ASCII.
    String(String),
    /// A Token.
    Token(String),
    /// A Byte Sequence, decoded.
    ByteSeq(Vec<u8>),
    /// A Boolean.
    Boolean(bool),
}

/// Parameters, in order (RFC 8941 §3.1.2).
pub type Params = Vec<(String, BareItem)>;

/// An Item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub bare: BareItem,
    /// Its parameters.
    pub params: Params,
}

/// An Inner List with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerList {
    /// The items, in order.
    pub items: Vec<Item>,
    /// The list's own parameters.
    pub params: Params,
}

/// A member of a List or a Dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A single Item.
    Item(Item),
    /// An Inner List.
    InnerList(InnerList),
}

/// A Dictionary, in order.
pub type Dictionary = Vec<(String, Member)>;

/// A List.
pub type List = Vec<Member>;

/// Why a structured field value did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfvError {
    /// What was expected, for messages.
    pub reason: &'static str,
    /// Byte offset in the input where parsing stopped.
    pub at: usize,
}

impl std::fmt::Display for SfvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}

impl std::error::Error for SfvError {}

/// The three top-level structured field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfType {
    /// A single Item.
    Item,
    /// A List.
    List,
    /// A Dictionary.
    Dictionary,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Parser<'a> {
        let mut p = Parser {
            s: input.as_bytes(),
            i: 0,
        };
        p.skip_sp();
        p
    }

    fn err<T>(&self, reason: &'static str) -> Result<T, SfvError> {
        Err(SfvError { reason, at: self.i })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Moves past the byte just peeked.
    fn bump(&mut self) {
        self.i = self.i.saturating_add(1);
    }

    /// The bytes from `start` to the current position (empty if `start` is past it).
    fn since(&self, start: usize) -> &'a [u8] {
        self.s.get(start..self.i).unwrap_or_default()
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.bump();
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
    }

    fn finish(&mut self) -> Result<(), SfvError> {
        self.skip_sp();
        if self.i != self.s.len() {
            return self.err("unexpected trailing characters");
        }
        Ok(())
    }

    fn list(&mut self) -> Result<List, SfvError> {
        let mut out = Vec::new();
        while self.i < self.s.len() {
            out.push(self.member()?);
            self.skip_ows();
            if self.i == self.s.len() {
                return Ok(out);
            }
            if self.peek() != Some(b',') {
                return self.err("expected ',' between list members");
            }
            self.bump();
            self.skip_ows();
            if self.i == self.s.len() {
                return self.err("trailing ',' in list");
            }
        }
        Ok(out)
    }

    fn dictionary(&mut self) -> Result<Dictionary, SfvError> {
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let key = self.key()?;
            let member = if self.peek() == Some(b'=') {
                self.bump();
                self.member()?
            } else {
                Member::Item(Item {
                    bare: BareItem::Boolean(true),
                    params: self.params()?,
                })
            };
            out.push((key, member));
            self.skip_ows();
            if self.i == self.s.len() {
                return Ok(out);
            }
            if self.peek() != Some(b',') {
                return self.err("expected ',' between dictionary members");
            }
            self.bump();
            self.skip_ows();
            if self.i == self.s.len() {
                return self.err("trailing ',' in dictionary");
            }
        }
        Ok(out)
    }

    fn member(&mut self) -> Result<Member, SfvError> {
        if self.peek() == Some(b'(') {
            Ok(Member::InnerList(self.inner_list()?))
        } else {
            Ok(Member::Item(self.item()?))
        }
    }

    fn inner_list(&mut self) -> Result<InnerList, SfvError> {
        self.bump(); // '('
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            match self.peek() {
                Some(b')') => {
                    self.bump();
                    let params = self.params()?;
                    return Ok(InnerList { items, params });
                }
                None => return self.err("unterminated inner list"),
                _ => {}
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return self.err("expected ' ' or ')' in inner list"),
            }
        }
    }

    fn item(&mut self) -> Result<Item, SfvError> {
        let bare = self.bare_item()?;
        let params = self.params()?;
        Ok(Item { bare, params })
    }

    fn params(&mut self) -> Result<Params, SfvError> {
        let mut out = Vec::new();
        while self.peek() == Some(b';') {
            self.bump();
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.bump();
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            out.push((key, value));
        }
        Ok(out)
    }

    fn key(&mut self) -> Result<String, SfvError> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_lowercase() || c == b'*' => self.bump(),
            _ => return self.err("expected a key (lowercase letter or '*')"),
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'.' | b'*')
            {
                self.bump();
            } else {
                break;
            }
        }
        Ok(ascii(self.since(start)))
    }

    fn bare_item(&mut self) -> Result<BareItem, SfvError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_seq(),
            Some(b'?') => self.boolean(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => self.token(),
            _ => self.err("expected an item"),
        }
    }

    fn number(&mut self) -> Result<BareItem, SfvError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.bump();
        }
        let start = self.i;
        let mut dot: Option<usize> = None;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                self.bump();
            } else if c == b'.' && dot.is_none() {
                if self.i.saturating_sub(start) > 12 {
                    return self.err("decimal with more than 12 integer digits");
                }
                dot = Some(self.i);
                self.bump();
            } else {
                break;
            }
            let len = self.i.saturating_sub(start);
            if (dot.is_none() && len > 15) || (dot.is_some() && len > 16) {
                return self.err("number too long");
            }
        }
        let digits = self.since(start);
        let signed = |v: i64| if negative { v.saturating_neg() } else { v };
        match dot {
            None => {
                if digits.is_empty() {
                    return self.err("expected a digit");
                }
                Ok(BareItem::Integer(signed(digits_value(digits))))
            }
            Some(d) => {
                let int = self.s.get(start..d).unwrap_or_default();
                let frac = self.since(d.saturating_add(1));
                if int.is_empty() || frac.is_empty() || frac.len() > 3 {
                    return self.err("decimal needs 1-12 integer and 1-3 fraction digits");
                }
                let mut thousandths = digits_value(frac);
                for _ in frac.len()..3 {
                    thousandths = thousandths.saturating_mul(10);
                }
                Ok(BareItem::Decimal(signed(
                    digits_value(int)
                        .saturating_mul(1000)
                        .saturating_add(thousandths),
                )))
            }
        }
    }

    fn string(&mut self) -> Result<BareItem, SfvError> {
        self.bump(); // '"'
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.bump();
                    return Ok(BareItem::String(out));
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c as char);
                            self.bump();
                        }
                        _ => return self.err("bad escape in string"),
                    }
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(c as char);
                    self.bump();
                }
                Some(_) => return self.err("character not allowed in string"),
            }
        }
    }

    fn token(&mut self) -> Result<BareItem, SfvError> {
        let start = self.i;
        self.bump();
        while let Some(c) = self.peek() {
            if is_tchar(c) || c == b':' || c == b'/' {
                self.bump();
            } else {
                break;
            }
        }
        Ok(BareItem::Token(ascii(self.since(start))))
    }

    fn byte_seq(&mut self) -> Result<BareItem, SfvError> {
        self.bump(); // ':'
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=') {
                self.bump();
            } else {
                break;
            }
        }
        if self.peek() != Some(b':') {
            return self.err("unterminated byte sequence");
        }
        let content = self.since(start);
        self.bump();
        match BYTES_LENIENT.decode(content) {
            Ok(bytes) => Ok(BareItem::ByteSeq(bytes)),
            Err(_) => Err(SfvError {
                reason: "bad base64 in byte sequence",
                at: start,
            }),
        }
    }

    fn boolean(&mut self) -> Result<BareItem, SfvError> {
        self.bump(); // '?'
        let v = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return self.err("expected ?0 or ?1"),
        };
        self.bump();
        Ok(BareItem::Boolean(v))
    }
}

/// Byte sequences: standard alphabet; padding optional as RFC 8941 §4.2.7 advises.
const BYTES_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn digits_value(d: &[u8]) -> i64 {
    // At most 15 digits: cannot overflow (saturating all the same).
    d.iter().fold(0i64, |acc, c| {
        acc.saturating_mul(10)
            .saturating_add(i64::from(c.saturating_sub(b'0')))
    })
}

fn ascii(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn check_ascii(input: &str) -> Result<(), SfvError> {
    match input
        .bytes()
        .position(|c| !(0x20..=0x7e).contains(&c) && c != b'\t')
    {
        Some(at) => Err(SfvError {
            reason: "non-ASCII or control character",
            at,
        }),
        None => Ok(()),
    }
}

/// Parses a Dictionary, keeping repeated keys (and repeated parameter keys) as they occur.
pub fn parse_dictionary_raw(input: &str) -> Result<Dictionary, SfvError> {
    check_ascii(input)?;
    let mut p = Parser::new(input);
    let d = p.dictionary()?;
    p.finish()?;
    Ok(d)
}

/// Parses a List, keeping repeated parameter keys.
pub fn parse_list_raw(input: &str) -> Result<List, SfvError> {
    check_ascii(input)?;
    let mut p = Parser::new(input);
    let l = p.list()?;
    p.finish()?;
    Ok(l)
}

/// Parses an Item, keeping repeated parameter keys.
pub fn parse_item_raw(input: &str) -> Result<Item, SfvError> {
    check_ascii(input)?;
    let mut p = Parser::new(input);
    let it = p.item()?;
    p.finish()?;
    Ok(it)
}

/// Parses a Dictionary per RFC 8941 (a repeated key overwrites the earlier value in place).
pub fn parse_dictionary(input: &str) -> Result<Dictionary, SfvError> {
    let mut raw = parse_dictionary_raw(input)?;
    raw.iter_mut().for_each(|(_, m)| dedup_member(m));
    Ok(last_wins(raw))
}

/// Parses a List per RFC 8941.
pub fn parse_list(input: &str) -> Result<List, SfvError> {
    let mut l = parse_list_raw(input)?;
    l.iter_mut().for_each(dedup_member);
    Ok(l)
}

/// Parses an Item per RFC 8941.
pub fn parse_item(input: &str) -> Result<Item, SfvError> {
    let mut it = parse_item_raw(input)?;
    dedup_params(&mut it.params);
    Ok(it)
}

/// Parses `input` as `ty` and serializes it strictly (RFC 8941 §4.1): the `;sf` form.
pub fn reserialize(input: &str, ty: SfType) -> Result<String, SfvError> {
    let mut out = String::new();
    match ty {
        SfType::Item => write_item(&mut out, &parse_item(input)?),
        SfType::List => write_list(&mut out, &parse_list(input)?),
        SfType::Dictionary => write_dictionary(&mut out, &parse_dictionary(input)?),
    }
    Ok(out)
}

/// Whether any key occurs twice in `params` (linear time).
pub fn has_duplicate_keys(params: &Params) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    params.iter().any(|(k, _)| !seen.insert(k.as_str()))
}

/// Keeps the first position of each key with the last value (RFC 8941 §4.2), in linear time.
fn last_wins<T>(entries: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut index: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(entries.len());
    let mut out: Vec<(String, T)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match index.get(&k) {
            Some(&i) => {
                if let Some(slot) = out.get_mut(i) {
                    slot.1 = v;
                }
            }
            None => {
                index.insert(k.clone(), out.len());
                out.push((k, v));
            }
        }
    }
    out
}

fn dedup_member(m: &mut Member) {
    match m {
        Member::Item(it) => dedup_params(&mut it.params),
        Member::InnerList(il) => {
            dedup_params(&mut il.params);
            il.items
                .iter_mut()
                .for_each(|it| dedup_params(&mut it.params));
        }
    }
}

fn dedup_params(p: &mut Params) {
    if has_duplicate_keys(p) {
        *p = last_wins(std::mem::take(p));
    }
}

/// Appends the strict serialization of a bare item.
pub fn write_bare(out: &mut String, b: &BareItem) {
    match b {
        BareItem::Integer(n) => out.push_str(&n.to_string()),
        BareItem::Decimal(t) => {
            if *t < 0 {
                out.push('-');
            }
            let a = t.unsigned_abs();
            out.push_str(&(a / 1000).to_string());
            out.push('.');
            let frac = format!("{:03}", a % 1000);
            let trimmed = frac.trim_end_matches('0');
            out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
        }
        BareItem::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        BareItem::Token(t) => out.push_str(t),
        BareItem::ByteSeq(bytes) => {
            out.push(':');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            out.push(':');
        }
        BareItem::Boolean(v) => out.push_str(if *v { "?1" } else { "?0" }),
    }
}

/// Appends the strict serialization of parameters (`;key` for a true Boolean).
pub fn write_params(out: &mut String, params: &Params) {
    for (k, v) in params {
        out.push(';');
        out.push_str(k);
        if *v != BareItem::Boolean(true) {
            out.push('=');
            write_bare(out, v);
        }
    }
}

/// Appends the strict serialization of an item with its parameters.
pub fn write_item(out: &mut String, it: &Item) {
    write_bare(out, &it.bare);
    write_params(out, &it.params);
}

/// Appends the strict serialization of an inner list with its parameters.
pub fn write_inner_list(out: &mut String, il: &InnerList) {
    out.push('(');
    for (i, it) in il.items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_item(out, it);
    }
    out.push(')');
    write_params(out, &il.params);
}

/// Appends the strict serialization of a list or dictionary member value.
pub fn write_member(out: &mut String, m: &Member) {
    match m {
        Member::Item(it) => write_item(out, it),
        Member::InnerList(il) => write_inner_list(out, il),
    }
}

/// Appends the strict serialization of a list.
pub fn write_list(out: &mut String, l: &List) {
    for (i, m) in l.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_member(out, m);
    }
}

/// Appends the strict serialization of a dictionary.
pub fn write_dictionary(out: &mut String, d: &Dictionary) {
    for (i, (k, m)) in d.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        match m {
            Member::Item(it) if it.bare == BareItem::Boolean(true) => write_params(out, &it.params),
            _ => {
                out.push('=');
                write_member(out, m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9421_example_dict_reserialized() {
        assert_eq!(
            reserialize("a=1,    b=2;x=1;y=2,   c=(a   b   c)", SfType::Dictionary).unwrap(),
            "a=1, b=2;x=1;y=2, c=(a b c)"
        );
    }

    #[test]
    fn bare_items_round_trip() {
        for s in [
            "42",
            "-7",
            "4.5",
            "-0.25",
            "\"a \\\"q\\\" \\\\\"",
            "tok/en:x",
            "*t",
            ":aGVsbG8=:",
            "?0",
            "?1;a;b=2",
        ] {
            assert_eq!(reserialize(s, SfType::Item).unwrap(), s, "{s}");
        }
        assert_eq!(reserialize("1.500", SfType::Item).unwrap(), "1.5");
        assert_eq!(reserialize("2.0", SfType::Item).unwrap(), "2.0");
        assert_eq!(
            reserialize(":aGVsbG8:", SfType::Item).unwrap(),
            ":aGVsbG8=:"
        );
    }

    #[test]
    fn dictionary_rules() {
        assert_eq!(
            reserialize("a, b;x=?0, c=?1;y", SfType::Dictionary).unwrap(),
            "a, b;x=?0, c;y"
        );
        assert_eq!(
            reserialize("a=1, b=2, a=3", SfType::Dictionary).unwrap(),
            "a=3, b=2"
        );
        assert_eq!(parse_dictionary_raw("a=1, a=2").unwrap().len(), 2);
        assert_eq!(reserialize("", SfType::Dictionary).unwrap(), "");
        assert_eq!(reserialize("  (  ) ", SfType::List).unwrap(), "()");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for (s, ty) in [
            ("a=1,", SfType::Dictionary),
            ("A=1", SfType::Dictionary),
            ("a=(1 2", SfType::Dictionary),
            ("a=(1 2)x", SfType::Dictionary),
            ("a=\"x", SfType::Dictionary),
            ("a=\"\\x\"", SfType::Dictionary),
            ("a=:abc!:", SfType::Dictionary),
            ("a=:YQ=", SfType::Dictionary),
            ("a=?2", SfType::Dictionary),
            ("a=1234567890123456", SfType::Dictionary),
            ("a=1.2345", SfType::Dictionary),
            ("a=1234567890123.1", SfType::Dictionary),
            ("a=1. ", SfType::Dictionary),
            ("a=-", SfType::Dictionary),
            ("a=1 b=2", SfType::Dictionary),
            ("a=\"é\"", SfType::Dictionary),
            ("1,", SfType::List),
            ("(1)(2)", SfType::List),
            ("1 2", SfType::Item),
            ("", SfType::Item),
            ("a;B", SfType::Item),
        ] {
            assert!(reserialize(s, ty).is_err(), "{s:?} should not parse");
        }
    }
}
