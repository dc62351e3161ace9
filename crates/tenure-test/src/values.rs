//! Arbitrary MessagePack values for patch tests: nested maps (keys in any order),
//! sequences and scalars of every kind, and pairs of them, related by a few edits
//! (what a request does to a value) or unrelated (type changes everywhere).
//!
//! The same strategies drive the property tests of `tenure-core`'s structural
//! comparison and the conformance cases that run its patches against each store
//! ([`crate::conformance::patches_apply_exactly`]), which draw from them with a
//! deterministic runner.
//!
//! ```
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//! let mut runner = TestRunner::deterministic();
//! let (old, new) = tenure_test::values::pair().new_tree(&mut runner).unwrap().current();
//! let _ = (tenure_test::values::encode(&old), tenure_test::values::encode(&new));
//! ```

use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A MessagePack value whose map entries keep the order they were given in (a
/// struct's fields, a `BTreeMap`'s sorted keys, or any other order).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer (encoded in the smallest width that holds it).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// Binary.
    Bin(Vec<u8>),
    /// A sequence.
    Array(Vec<Value>),
    /// A map, in this order.
    Map(Vec<(Value, Value)>),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(t) => s.serialize_str(t),
            Value::Bin(b) => s.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(pairs) => {
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The value's MessagePack encoding, as the default codec writes it.
pub fn encode(value: &Value) -> Vec<u8> {
    // Every Value encodes: it holds only MessagePack's own types.
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-200i64..70_000).prop_map(Value::Int),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Value::Float),
        "[a-z ]{0,40}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bin),
    ]
}

fn key() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[a-f]{1,3}".prop_map(Value::Str),
        1 => (0i64..8).prop_map(Value::Int),
    ]
}

/// Any value: up to 4 levels of maps and sequences of up to 12 entries.
pub fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 96, 12, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..12).prop_map(|mut pairs| {
                // As serde writes maps: each key once.
                let mut seen = Vec::new();
                pairs.retain(|(k, _)| {
                    let fresh = !seen.contains(k);
                    seen.push(k.clone());
                    fresh
                });
                Value::Map(pairs)
            }),
        ]
    })
}

/// One edit at a place picked by `at`: replace, insert or remove.
#[derive(Debug, Clone)]
struct Edit {
    at: u64,
    kind: u8,
    key: Value,
    value: Value,
}

fn edit(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Edit> {
    (any::<u64>(), any::<u8>(), key(), values).prop_map(|(at, kind, key, value)| Edit {
        at,
        kind,
        key,
        value,
    })
}

/// Applies `e` somewhere inside `v`: `at` picks the path, a digit per level.
fn apply(v: &mut Value, at: u64, e: &Edit) {
    let digit = at % 5;
    let rest = at / 5;
    match v {
        Value::Array(items) if !items.is_empty() && digit != 0 => {
            let n = items.len();
            apply(&mut items[(rest as usize) % n], rest / n as u64, e);
        }
        Value::Map(pairs) if !pairs.is_empty() && digit != 0 => {
            let n = pairs.len();
            apply(&mut pairs[(rest as usize) % n].1, rest / n as u64, e);
        }
        Value::Array(items) => {
            let i = (rest as usize) % (items.len() + 1);
            match e.kind % 3 {
                0 if i < items.len() => {
                    items.remove(i);
                }
                1 => items.insert(i, e.value.clone()),
                _ => *v = e.value.clone(),
            }
        }
        Value::Map(pairs) => {
            let i = (rest as usize) % (pairs.len() + 1);
            match e.kind % 3 {
                0 if i < pairs.len() => {
                    pairs.remove(i);
                }
                1 if !pairs.iter().any(|(k, _)| *k == e.key) => {
                    pairs.insert(i, (e.key.clone(), e.value.clone()))
                }
                _ => *v = e.value.clone(),
            }
        }
        scalar => *scalar = e.value.clone(),
    }
}

/// A value and the same value after one to three edits anywhere inside it, each
/// putting in any value (so types change too).
pub fn related() -> impl Strategy<Value = (Value, Value)> {
    edited(value().boxed())
}

/// A value and the same value after one to three small edits: scalars replaced,
/// inserted or removed, as a request changes a quantity or adds an item.
pub fn nudged() -> impl Strategy<Value = (Value, Value)> {
    edited(scalar().boxed())
}

fn edited(values: BoxedStrategy<Value>) -> impl Strategy<Value = (Value, Value)> {
    (value(), proptest::collection::vec(edit(values), 1..4)).prop_map(|(old, edits)| {
        let mut new = old.clone();
        for e in &edits {
            apply(&mut new, e.at, e);
        }
        (old, new)
    })
}

/// Pairs of values: mostly related by a few edits, sometimes unrelated.
pub fn pair() -> impl Strategy<Value = (Value, Value)> {
    prop_oneof![
        4 => related(),
        1 => (value(), value()),
    ]
}
