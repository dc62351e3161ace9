//! A poison-tolerant lock, for the short critical sections every Tenure crate keeps.
//!
//! Tenure's critical sections never panic halfway through an update, so a mutex
//! poisoned by a panic elsewhere (in a caller's task, say) still guards consistent
//! data: recovering it is right, and refusing it would turn one panic into many.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data if a panic poisoned it.
///
/// ```
/// use std::sync::Mutex;
/// let m = Mutex::new(1);
/// *tenure_core::sync::lock(&m) += 1;
/// assert_eq!(*tenure_core::sync::lock(&m), 2);
/// ```
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
