//! The claims deserialized into the caller's own types, once per validated
//! token: each type's value is kept beside the claims text and shared.
//!
//! A token answered from the verified-token cache is the same
//! [`Authenticated`](super::claims::Authenticated) every time, so a handler's
//! `Claims<T>` costs one deserialization per cached token and type, then a
//! reference-count increment per request.

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;

use crate::error::{Error, log_safe};

/// How many types one token keeps values of. A program has a handful of
/// claims types; past this many, further types are deserialized on every
/// call and not kept, so a token's memory stays bounded whatever asks.
const MAX_TYPES: usize = 4;

/// One type's verdict: its value, or why the claims do not fit it (kept too:
/// the same text never fits on a later try).
type Value = Result<Arc<dyn Any + Send + Sync>, Error>;

struct Slot {
    type_id: TypeId,
    value: Value,
}

/// Told how many bytes a newly kept value adds, once per kept value: what
/// the verified-token cache re-weighs its entry by.
pub(crate) type OnKept = Box<dyn Fn(usize) + Send + Sync>;

/// The typed values of one token's claims.
#[derive(Default)]
pub(crate) struct Typed {
    /// The first type asked for: read without a lock, as nearly every
    /// program has a single claims type.
    first: OnceLock<Slot>,
    /// Any other types, up to [`MAX_TYPES`] in all.
    more: Mutex<Vec<Slot>>,
    on_kept: OnceLock<OnKept>,
}

impl std::fmt::Debug for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let more = self.more.lock().map_or(0, |m| m.len());
        f.debug_struct("Typed")
            .field("kept", &(usize::from(self.first.get().is_some()) + more))
            .finish_non_exhaustive()
    }
}

impl Typed {
    /// Calls `on_kept` for every value kept from now on. Set once (by the
    /// verified-token cache, when it takes the token in); later calls are
    /// ignored.
    pub(crate) fn on_kept(&self, on_kept: OnKept) {
        let _ = self.on_kept.set(on_kept);
    }

    /// The claims text `json` as a `T`: deserialized on the first call for
    /// `T`, shared afterwards.
    pub(crate) fn get<T>(&self, json: &str) -> Result<Arc<T>, Error>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<T>();
        let first = self.first.get_or_init(|| self.fill::<T>(json));
        if first.type_id == id {
            return downcast(&first.value);
        }
        let mut more = match self.more.lock() {
            Ok(more) => more,
            // A panic elsewhere while holding the lock (none of ours can):
            // correct without keeping anything.
            Err(_) => return deserialize::<T>(json).map(Arc::new),
        };
        if let Some(slot) = more.iter().find(|s| s.type_id == id) {
            return downcast(&slot.value);
        }
        if more.len() + 1 >= MAX_TYPES {
            return deserialize::<T>(json).map(Arc::new);
        }
        let slot = self.fill::<T>(json);
        let value = downcast(&slot.value);
        more.push(slot);
        value
    }

    /// Deserializes `json` as a `T` and reports the bytes the slot adds.
    fn fill<T>(&self, json: &str) -> Slot
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let value: Value = match deserialize::<T>(json) {
            Ok(value) => Ok(Arc::new(value)),
            Err(error) => Err(error),
        };
        if let Some(on_kept) = self.on_kept.get() {
            on_kept(match &value {
                Ok(_) => value_bytes::<T>(json),
                // The reason, at most a couple of hundred bytes of text.
                Err(_) => std::mem::size_of::<Slot>() + 256,
            });
        }
        Slot {
            type_id: TypeId::of::<T>(),
            value,
        }
    }
}

/// `json` as a `T`, freshly deserialized.
pub(crate) fn deserialize<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::ClaimsShape(log_safe(&e.to_string(), 200)))
}

fn downcast<T: Send + Sync + 'static>(value: &Value) -> Result<Arc<T>, Error> {
    match value {
        Ok(any) => Arc::clone(any)
            .downcast::<T>()
            .map_err(|_| Error::ClaimsShape("a kept value of another type".into())),
        Err(error) => Err(error.clone()),
    }
}

/// Bytes on the heap a `T` deserialized from `json` is charged: the value
/// itself with its reference counts, every byte of the claims text (no
/// string can hold more than the text it came from), and 48 bytes for every
/// value the text can hold (counted as its `,`, `[` and `{`, plus one): a
/// list slot of 24 bytes up to twice over, as a vector grows by doubling,
/// or a string's own heap block. An estimate, not a bound for any type: it
/// is generous for claims made of strings, numbers and lists of them (what
/// `cargo bench --bench memory` measures), and a type whose values are much
/// larger than their JSON (large fixed-size arrays in a list) would be
/// under-counted.
pub(crate) fn value_bytes<T>(json: &str) -> usize {
    // One pass per byte value: each compiles to a vectorised count.
    let count = |c: u8| json.bytes().filter(|&b| b == c).count();
    let values = count(b',') + count(b'[') + count(b'{') + 1;
    std::mem::size_of::<Slot>()
        + 2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<T>()
        + json.len()
        + 48 * values
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Name {
        name: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Exp {
        exp: i64,
    }

    const JSON: &str = r#"{"name":"ada","exp":17}"#;

    /// The second call for a type hands out the same value: deserialized
    /// once, shared after.
    #[test]
    fn a_type_is_deserialized_once_and_shared() {
        let typed = Typed::default();
        let a = typed.get::<Name>(JSON).expect("fits");
        let b = typed.get::<Name>(JSON).expect("fits");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.name, "ada");
    }

    /// Several types each keep their own value, up to the limit; past it,
    /// values are still right, only not kept.
    #[test]
    fn several_types_each_get_their_own_value() {
        #[derive(Deserialize)]
        struct A {}
        #[derive(Deserialize)]
        struct B {}
        #[derive(Deserialize)]
        struct C {}
        let kept = Arc::new(AtomicUsize::new(0));
        let typed = Typed::default();
        let counter = Arc::clone(&kept);
        typed.on_kept(Box::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        assert_eq!(typed.get::<Exp>(JSON).expect("fits").exp, 17);
        assert_eq!(typed.get::<Name>(JSON).expect("fits").name, "ada");
        let exp = typed.get::<Exp>(JSON).expect("fits");
        assert!(Arc::ptr_eq(&exp, &typed.get::<Exp>(JSON).expect("fits")));
        let name = typed.get::<Name>(JSON).expect("fits");
        assert!(Arc::ptr_eq(&name, &typed.get::<Name>(JSON).expect("fits")));
        typed.get::<A>(JSON).expect("fits");
        typed.get::<B>(JSON).expect("fits");
        typed.get::<C>(JSON).expect("fits");
        let c1 = typed.get::<C>(JSON).expect("fits");
        let c2 = typed.get::<C>(JSON).expect("fits");
        assert!(!Arc::ptr_eq(&c1, &c2), "past the limit, nothing is kept");
        assert_eq!(kept.load(Ordering::Relaxed), MAX_TYPES);
    }

    /// Claims that do not fit a type are refused every time, with the same
    /// reason; the other types are unaffected.
    #[test]
    fn a_type_the_claims_do_not_fit_is_refused_every_time() {
        #[derive(Debug, Deserialize)]
        struct Missing {
            #[allow(dead_code)]
            oid: String,
        }
        let typed = Typed::default();
        let first = typed.get::<Missing>(JSON).expect_err("no oid");
        assert!(matches!(first, Error::ClaimsShape(_)), "{first:?}");
        assert_eq!(typed.get::<Missing>(JSON).expect_err("no oid"), first);
        assert_eq!(typed.get::<Exp>(JSON).expect("fits").exp, 17);
    }

    /// The charge counts the text and every value it can hold: many short
    /// strings weigh far more than their text.
    #[test]
    fn the_charge_grows_with_the_values_the_text_holds() {
        let few = r#"{"roles":["abcdefghijklmnop"]}"#;
        let many = r#"{"roles":["a","b","c","d","e","f","g","h"]}"#;
        let (few, many) = (
            value_bytes::<Vec<String>>(few),
            value_bytes::<Vec<String>>(many),
        );
        assert!(many >= few + 7 * 48, "{few} {many}");
    }
}
