//! The value types of the schema that serde cannot read as they are: a
//! duration written for people (`"30s"`, `"5m"`, `"12h"`), an algorithm by
//! its JOSE name, one string or a list of them, an Entra token version.
//! Their error messages quote what was given only where it cannot be a
//! secret (a duration, an algorithm name), bounded and escaped.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::error::log_safe;
use crate::token::algorithm::{Algorithm, DEFAULT_ALGORITHMS};

/// A duration in human form: `"30s"`, `"5m"`, `"1h 30m"`, `"500ms"`
/// (humantime's syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"5m\" or \"12h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(v.trim())
                    .map(HumanDuration)
                    .map_err(|e| {
                        E::custom(format_args!(
                            "{} is not a duration such as \"30s\", \"5m\" or \"12h\" ({e})",
                            log_safe(v, 40)
                        ))
                    })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// An algorithm by its JOSE name (`"RS256"`, `"EdDSA"`), compared exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AlgorithmName(pub(crate) Algorithm);

impl<'de> Deserialize<'de> for AlgorithmName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AlgorithmName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an algorithm name such as \"RS256\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AlgorithmName, E> {
                Algorithm::from_name(v).map(AlgorithmName).ok_or_else(|| {
                    let names: Vec<&str> = DEFAULT_ALGORITHMS.iter().map(|a| a.name()).collect();
                    E::custom(format_args!(
                        "{} is not an algorithm this crate verifies (one of {}; symmetric \
                         algorithms and `none` are never accepted)",
                        log_safe(v, 20),
                        names.join(", ")
                    ))
                })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// One string, or a list of strings: `audiences = "api://notes"` and
/// `audiences = ["api://notes", "notes"]` both read, so that one value can
/// come from one environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OneOrMany(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element::<String>()? {
                    all.push(one);
                }
                Ok(OneOrMany(all))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A Microsoft identity platform access-token version: `1`/`"1.0"` (issuer
/// `https://sts.windows.net/{tenant}/`) or `2`/`"2.0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenVersion {
    V1,
    V2,
}

impl<'de> Deserialize<'de> for TokenVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TokenVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token version, \"1.0\" or \"2.0\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TokenVersion, E> {
                match v.trim() {
                    "1" | "1.0" | "v1.0" => Ok(TokenVersion::V1),
                    "2" | "2.0" | "v2.0" => Ok(TokenVersion::V2),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TokenVersion, E> {
                match v {
                    1 => Ok(TokenVersion::V1),
                    2 => Ok(TokenVersion::V2),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TokenVersion, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TokenVersion, E> {
                if v == 1.0 {
                    Ok(TokenVersion::V1)
                } else if v == 2.0 {
                    Ok(TokenVersion::V2)
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}
