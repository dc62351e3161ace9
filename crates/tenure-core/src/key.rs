//! Typed keys beside plain string names, and how each attribute's changes are found.
//!
//! ```
//! use tenure_core::{AsKey, Comparison, Key};
//! const COUNTER: Key<u64> = Key::new("counter");
//! const CART: Key<Vec<String>> = Key::structural("cart");
//! fn name_of<T>(k: impl AsKey<T>) -> String { k.name().to_string() }
//! assert_eq!(name_of(&COUNTER), "counter");
//! assert_eq!(name_of::<u64>("counter"), "counter");
//! assert_eq!(CART.comparison(), Some(Comparison::Structural));
//! assert_eq!(COUNTER.comparison(), None); // the node's default
//! ```

use std::fmt;
use std::marker::PhantomData;

/// What is written for an attribute that changed (a change is found either way by
/// comparing the re-encoded bytes with the bytes as loaded).
///
/// | | writes | found by | pays when |
/// |---|---|---|---|
/// | [`Binary`](Self::Binary) | the whole attribute | – | values are small, or change whole |
/// | [`Structural`](Self::Structural) | a [`Patch`](crate::Patch) of what changed inside, or the whole attribute when that is not smaller | comparing the stored value's structure with the new one's (maps by key, sequences by index) | one large value (a cart, a map of preferences, a wizard's state) changes a little per request |
///
/// Structural comparison reads the encodings up to the change (about 27 µs for a
/// change in the middle of a 50 KB value), and needs the MessagePack codec: with
/// another codec every change is written whole. See [`crate::structural`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Comparison {
    /// Compare bytes; write the whole attribute if they differ (the default).
    #[default]
    Binary,
    /// Compare structure; write a patch of the change.
    Structural,
}

/// The name of an attribute together with the type stored under it, so the compiler
/// checks that every use agrees, and, if the key chooses one, how changes to it are
/// found ([`Comparison`]; otherwise the node's default).
pub struct Key<T> {
    name: &'static str,
    comparison: Option<Comparison>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// A key for the attribute `name`, compared as the node's default says.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            comparison: None,
            _type: PhantomData,
        }
    }

    /// A key for the attribute `name` whose changes are found by structural
    /// comparison and written as patches, whatever the node's default.
    pub const fn structural(name: &'static str) -> Self {
        Self {
            name,
            comparison: Some(Comparison::Structural),
            _type: PhantomData,
        }
    }

    /// A key for the attribute `name` whose changes are found by binary comparison
    /// and written whole, whatever the node's default.
    pub const fn binary(name: &'static str) -> Self {
        Self {
            name,
            comparison: Some(Comparison::Binary),
            _type: PhantomData,
        }
    }

    /// The attribute name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The comparison this key chose, if any.
    pub const fn comparison(&self) -> Option<Comparison> {
        self.comparison
    }
}

impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Key<T> {}

impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key<{}>({:?}", std::any::type_name::<T>(), self.name)?;
        match self.comparison {
            Some(c) => write!(f, ", {c:?})"),
            None => write!(f, ")"),
        }
    }
}

/// Anything that names an attribute of type `T`: a [`Key<T>`], or a string for any `T`.
pub trait AsKey<T> {
    /// The attribute name.
    fn name(&self) -> &str;

    /// How changes to the attribute are found; `None`: the node's default. A string
    /// names none.
    fn comparison(&self) -> Option<Comparison> {
        None
    }
}

impl<T> AsKey<T> for Key<T> {
    fn name(&self) -> &str {
        self.name
    }
    fn comparison(&self) -> Option<Comparison> {
        self.comparison
    }
}
impl<T> AsKey<T> for &Key<T> {
    fn name(&self) -> &str {
        self.name
    }
    fn comparison(&self) -> Option<Comparison> {
        self.comparison
    }
}
impl<T> AsKey<T> for &str {
    fn name(&self) -> &str {
        self
    }
}
impl<T> AsKey<T> for String {
    fn name(&self) -> &str {
        self
    }
}
impl<T> AsKey<T> for &String {
    fn name(&self) -> &str {
        self
    }
}
