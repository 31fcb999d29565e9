//! Borrowed views of JSON objects: members sorted by name, each value kept as
//! its raw text and read only when a check asks for it.
//!
//! A claims set is parsed once, fully (the syntax of every value is checked),
//! without building a tree of values nobody reads: the cold path then
//! allocates one vector instead of a string and a node per claim.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::Deserialize;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use serde_json::value::RawValue;

/// Why text is not an [`Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotAnObject {
    /// Not valid JSON, or valid JSON of another type.
    Invalid,
    /// Two members share a name (RFC 7519 §4: claim names MUST be unique; a
    /// parser that keeps one of the duplicates could be fooled).
    DuplicateName,
}

/// A JSON object's members, borrowed from its text and sorted by name.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    members: Vec<(Cow<'a, str>, Option<&'a RawValue>)>,
}

impl<'a> Object<'a> {
    /// Parses `text` as one JSON object whose member names are unique,
    /// keeping every member's value.
    pub(crate) fn parse(text: &'a str) -> Result<Self, NotAnObject> {
        Object::parse_keeping(text, None)
    }

    /// Like [`parse`](Object::parse), but keeps the values of the members
    /// named in `wanted` only; the others are checked and dropped, in one
    /// pass over their text. Every name still counts for uniqueness.
    pub(crate) fn parse_keeping(
        text: &'a str,
        wanted: Option<&Names>,
    ) -> Result<Self, NotAnObject> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let Members(mut members) =
            serde::de::DeserializeSeed::deserialize(Keep(wanted), &mut deserializer)
                .map_err(|_| NotAnObject::Invalid)?;
        deserializer.end().map_err(|_| NotAnObject::Invalid)?;
        members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if members
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.0 == b.0))
        {
            return Err(NotAnObject::DuplicateName);
        }
        Ok(Object { members })
    }

    /// The raw value of the member `name`, if it was kept.
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        let at = self
            .members
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()?;
        self.members.get(at).and_then(|(_, value)| *value)
    }
}

/// The JSON type of a raw value, from its first byte (raw values carry no
/// leading whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Array,
    Object,
    Number,
    /// `true`, `false` or `null`.
    Literal,
}

pub(crate) fn kind(raw: &RawValue) -> Kind {
    match raw.get().as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        Some(b'-' | b'0'..=b'9') => Kind::Number,
        _ => Kind::Literal,
    }
}

/// The string `raw` holds, borrowed unless it has escapes; `None` for any
/// other type.
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Text<'_>>(raw.get())
        .ok()
        .map(|t| t.0)
}

/// The strings of an array of strings; `None` for any other value, or an
/// array holding anything else.
pub(crate) fn strings(raw: &RawValue) -> Option<Vec<Cow<'_, str>>> {
    serde_json::from_str::<Texts<'_>>(raw.get())
        .ok()
        .map(|t| t.0)
}

/// The number `raw` holds; `None` for any other type or a number out of range.
pub(crate) fn number(raw: &RawValue) -> Option<Number> {
    serde_json::from_str(raw.get()).ok()
}

/// Any JSON value, parsed as strictly as into a `serde_json::Value` (numbers
/// in range, escapes decoded, depth limited) but kept nowhere: no allocation.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Valid;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
                Ok(Valid)
            }

            fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
                Ok(Valid)
            }

            fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
                Ok(Valid)
            }

            fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
                Ok(Valid)
            }

            fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
                Ok(Valid)
            }

            fn visit_unit<E>(self) -> Result<Valid, E> {
                Ok(Valid)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Valid, A::Error> {
                while items.next_element::<Valid>()?.is_some() {}
                Ok(Valid)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Valid, A::Error> {
                while access.next_entry::<Valid, Valid>()?.is_some() {}
                Ok(Valid)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// A JSON string, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }

            fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// A JSON array of strings.
struct Texts<'a>(Vec<Cow<'a, str>>);

impl<'de> Deserialize<'de> for Texts<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Texts<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of strings")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Texts<'de>, A::Error> {
                // The size hint of serde_json is `None`; grow as items come.
                let mut out = Vec::new();
                while let Some(Text(item)) = items.next_element()? {
                    out.push(item);
                }
                Ok(Texts(out))
            }
        }
        deserializer.deserialize_seq(Visit)
    }
}

/// A JSON object's members in document order: each name, and its value if kept.
struct Members<'a>(Vec<(Cow<'a, str>, Option<&'a RawValue>)>);

/// A set of member names, fixed when a validator is built: the claims its
/// checks read. Looked up once per member of every claims set parsed cold,
/// so by hash: JWT claim names are mostly three letters, which a comparison
/// of lengths would not tell apart.
#[derive(Debug, Default)]
pub(crate) struct Names(HashSet<Box<str>, foldhash::fast::RandomState>);

impl Names {
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

impl<'n> FromIterator<&'n str> for Names {
    fn from_iter<I: IntoIterator<Item = &'n str>>(names: I) -> Self {
        Names(names.into_iter().map(Box::from).collect())
    }
}

/// Which members' values to keep: all, or those named.
struct Keep<'w>(Option<&'w Names>);

impl Keep<'_> {
    fn wants(&self, name: &str) -> bool {
        self.0.is_none_or(|names| names.contains(name))
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Keep<'_> {
    type Value = Members<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Members<'de>, D::Error> {
        struct Visit<'w>(Keep<'w>);
        impl<'de> Visitor<'de> for Visit<'_> {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Members<'de>, A::Error> {
                // serde_json gives no size hint; room for a typical access
                // token's claims saves the reallocations on the way there.
                let mut members = Vec::with_capacity(32);
                while let Some(Text(name)) = access.next_key::<Text<'de>>()? {
                    if self.0.wants(&name) {
                        // Raw values are only scanned: check a kept one as
                        // strictly as a full parse would (numbers in range,
                        // escapes that decode, nesting within the limit).
                        let raw: &'de RawValue = access.next_value()?;
                        serde_json::from_str::<Valid>(raw.get())
                            .map_err(serde::de::Error::custom)?;
                        members.push((name, Some(raw)));
                    } else {
                        access.next_value::<Valid>()?;
                        members.push((name, None));
                    }
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visit(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_by_name_and_read_by_type() {
        let text = r#"{"b": [ "x", "y\u0041" ], "a": "plain", "e": "esc\"aped", "n": 1.5, "o": {"k": null}, "t": true}"#;
        let object = Object::parse(text).expect("an object");
        let get = |name| object.get(name).expect(name);
        assert!(matches!(string(get("a")), Some(Cow::Borrowed("plain"))));
        assert!(matches!(string(get("e")), Some(Cow::Owned(s)) if s == "esc\"aped"));
        assert_eq!(strings(get("b")), Some(vec!["x".into(), "yA".into()]));
        assert_eq!(number(get("n")).and_then(|n| n.as_f64()), Some(1.5));
        let kinds: Vec<Kind> = ["a", "b", "n", "o", "t"].map(|n| kind(get(n))).to_vec();
        assert_eq!(
            kinds,
            [
                Kind::String,
                Kind::Array,
                Kind::Number,
                Kind::Object,
                Kind::Literal
            ]
        );
        assert_eq!(string(get("n")), None, "a number is not a string");
        assert_eq!(strings(get("a")), None, "a string is not an array");
        assert!(object.get("missing").is_none());
    }

    #[test]
    fn only_objects_with_unique_names_parse() {
        for (text, why) in [
            (r#"{"a": 1, "a": 2}"#, NotAnObject::DuplicateName),
            (r#"{"a": 1, "\u0061": 2}"#, NotAnObject::DuplicateName),
            (r#"["a", 1]"#, NotAnObject::Invalid),
            (r#"{"a": }"#, NotAnObject::Invalid),
            (r#"{"a": "\x"}"#, NotAnObject::Invalid),
            (r#"{"a": 1} trailing"#, NotAnObject::Invalid),
            (r#"{"a": 1e400}"#, NotAnObject::Invalid),
            (r#"{"a": "\ud800"}"#, NotAnObject::Invalid),
        ] {
            assert_eq!(Object::parse(text).err(), Some(why), "{text}");
        }
        assert_eq!(
            strings(&RawValue::from_string("[\"a\", 1]".into()).expect("raw")),
            None
        );
    }
}
