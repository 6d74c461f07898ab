//! Locking a std `Mutex` that another thread may have poisoned.
//!
//! A poisoned lock only means a thread panicked mid-update of plain data;
//! the data is still usable, and the host must not cascade the panic into
//! every task that touches it.

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
