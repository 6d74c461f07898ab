//! The notifications a store gives its functions' dispatchers: one
//! `Notify` per function, made on first use and shared by every store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Wakes(Mutex<HashMap<String, Arc<Notify>>>);

impl Wakes {
    /// The notification of `function`'s dispatcher.
    pub(crate) fn get(&self, function: &str) -> Arc<Notify> {
        let mut wakes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        wakes.entry(function.to_string()).or_default().clone()
    }

    /// Tells `function`'s dispatcher that an event may be due.
    pub(crate) fn wake(&self, function: &str) {
        self.get(function).notify_one();
    }

    /// Tells every dispatcher (after notifications may have been missed).
    pub(crate) fn wake_all(&self) {
        let wakes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        wakes.values().for_each(|n| n.notify_one());
    }
}
