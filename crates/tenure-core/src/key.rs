//! Typed keys beside plain string names.
//!
//! ```
//! use tenure_core::{AsKey, Key};
//! const COUNTER: Key<u64> = Key::new("counter");
//! fn name_of<T>(k: impl AsKey<T>) -> String { k.name().to_string() }
//! assert_eq!(name_of(&COUNTER), "counter");
//! assert_eq!(name_of::<u64>("counter"), "counter");
//! ```

use std::fmt;
use std::marker::PhantomData;

/// The name of an attribute together with the type stored under it, so the compiler
/// checks that every use agrees.
pub struct Key<T> {
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// A key for the attribute `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _type: PhantomData,
        }
    }

    /// The attribute name.
    pub const fn name(&self) -> &'static str {
        self.name
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
        write!(f, "Key<{}>({:?})", std::any::type_name::<T>(), self.name)
    }
}

/// Anything that names an attribute of type `T`: a [`Key<T>`], or a string for any `T`.
pub trait AsKey<T> {
    /// The attribute name.
    fn name(&self) -> &str;
}

impl<T> AsKey<T> for Key<T> {
    fn name(&self) -> &str {
        self.name
    }
}
impl<T> AsKey<T> for &Key<T> {
    fn name(&self) -> &str {
        self.name
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
