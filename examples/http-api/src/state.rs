//! The function's state: its configuration and its store, built once at init.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::routes::Item;

/// Read from the environment at init (`API_TOKEN`, `MAX_ITEMS`).
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The bearer token that writes need.
    pub api_token: String,
    /// How many items the store keeps at most.
    #[serde(default = "default_max_items")]
    pub max_items: usize,
}

fn default_max_items() -> usize {
    1000
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) token: Arc<str>,
    pub(crate) max_items: usize,
    pub(crate) items: Arc<Mutex<Store>>,
}

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) next_id: u64,
    pub(crate) items: BTreeMap<u64, Item>,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        AppState {
            token: config.api_token.into(),
            max_items: config.max_items,
            items: Arc::default(),
        }
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock leaves plain data, still consistent.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}
