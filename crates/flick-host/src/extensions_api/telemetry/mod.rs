//! The Telemetry API (2022-07-01) and the Logs API (2020-08-15) of one
//! sandbox: extensions subscribe during init; from then on every record of
//! the types they chose reaches them, batched, at their listener inside the
//! sandbox.
//!
//! Owns the subscriptions and the fan-out: an event the sandbox reports
//! is rendered for each subscriber's API and schema and queued to its
//! [`delivery::Feed`]. Events of init are kept until init ends, so that an
//! extension subscribing late in init still gets `platform.initStart` and the
//! runtime's first lines, as Lambda replays them. With no subscriber and
//! init over, reporting an event costs one atomic load.

pub mod delivery;
pub mod events;
pub mod subscription;

use crate::sync::lock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use delivery::{Connect, Feed};
pub use events::{Event, Report};
use events::{Stamped, Stream};
pub use subscription::Api;
use subscription::Subscription;

/// Init events kept for late subscribers, at most (in bytes of text, about).
const REPLAY_MAX_BYTES: usize = 1024 * 1024;

/// Why a subscription was refused: HTTP status, `errorType`, message.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub error_type: String,
    pub message: String,
}

struct Subscriber {
    name: String,
    subscription: Subscription,
    feed: std::sync::Arc<Feed>,
}

struct Inner {
    subscribers: Vec<Subscriber>,
    /// The events of init, until it ends.
    replay: Option<Vec<Stamped>>,
    replay_bytes: usize,
}

pub struct Telemetry {
    inner: Mutex<Inner>,
    /// Whether anyone may want an event: init under way, or a subscriber.
    listening: AtomicBool,
    connect: OnceLock<Connect>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            inner: Mutex::new(Inner {
                subscribers: Vec::new(),
                replay: Some(Vec::new()),
                replay_bytes: 0,
            }),
            listening: AtomicBool::new(true),
            connect: OnceLock::new(),
        }
    }
}

impl Telemetry {
    /// Sets how the host reaches a port on the sandbox's loopback (inside
    /// its network namespace, when it has one).
    pub fn set_connect(&self, connect: Connect) {
        let _ = self.connect.set(connect);
    }

    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// `PUT /2022-07-01/telemetry` or `/2020-08-15/logs` from the extension
    /// `name`; subscribing again changes nothing (idempotent, as the Logs
    /// API's documentation puts it).
    pub fn subscribe(&self, api: Api, name: &str, body: &[u8]) -> Result<(), Refused> {
        let prefix = match api {
            Api::Telemetry => "Telemetry",
            Api::Logs => "Logs",
        };
        let subscription = subscription::parse(api, body).map_err(|message| Refused {
            status: 400,
            error_type: match api {
                Api::Telemetry => "ValidationError".into(),
                Api::Logs => "Logs.ValidationError".into(),
            },
            message,
        })?;
        let types = subscription.types.names();
        {
            let mut inner = lock(&self.inner);
            let Some(replay) = &inner.replay else {
                return Err(Refused {
                    status: 403,
                    error_type: format!("{prefix}.SubscriptionClosed"),
                    message: format!("{prefix} API subscription is closed"),
                });
            };
            if inner
                .subscribers
                .iter()
                .any(|s| s.name == name && s.subscription.api == api)
            {
                return Ok(());
            }
            let subscriber = Subscriber {
                name: name.to_string(),
                feed: std::sync::Arc::new(Feed::start(subscription.clone(), self.connector())),
                subscription,
            };
            for event in replay {
                send(&subscriber, event);
            }
            inner.subscribers.push(subscriber);
        }
        self.emit(Event::Subscription {
            name: name.to_string(),
            types,
        });
        Ok(())
    }

    fn connector(&self) -> Connect {
        self.connect.get().cloned().unwrap_or_else(|| {
            std::sync::Arc::new(|port| {
                Box::pin(tokio::net::TcpStream::connect(("127.0.0.1", port)))
            })
        })
    }

    /// Reports an event to whoever subscribed to its type.
    pub fn emit(&self, event: Event) {
        if !self.listening() {
            return;
        }
        let stamped = Stamped {
            time: SystemTime::now(),
            event,
        };
        let mut inner = lock(&self.inner);
        for subscriber in &inner.subscribers {
            send(subscriber, &stamped);
        }
        let size = stamped.event.size();
        let Inner {
            replay,
            replay_bytes,
            ..
        } = &mut *inner;
        if let Some(replay) = replay {
            if *replay_bytes + size <= REPLAY_MAX_BYTES {
                *replay_bytes += size;
                replay.push(stamped);
            }
        }
    }

    /// Sends every subscriber what it holds now (before a shutdown), and
    /// returns once all is sent or given up.
    pub async fn flush(&self) {
        let feeds: Vec<_> = lock(&self.inner)
            .subscribers
            .iter()
            .map(|s| s.feed.clone())
            .collect();
        for feed in feeds {
            feed.flush().await;
        }
    }

    /// Init is over: no more subscriptions, no more replay.
    pub fn end_init(&self) {
        let mut inner = lock(&self.inner);
        inner.replay = None;
        inner.replay_bytes = 0;
        self.listening
            .store(!inner.subscribers.is_empty(), Ordering::Release);
    }
}

fn send(subscriber: &Subscriber, event: &Stamped) {
    let s = &subscriber.subscription;
    let wanted = match event.event.stream() {
        Stream::Platform => s.types.platform,
        Stream::Function => s.types.function,
        Stream::Extension => s.types.extension,
    };
    if !wanted {
        return;
    }
    for record in event.render(s.api, &s.schema) {
        if let Ok(bytes) = serde_json::to_vec(&record) {
            subscriber.feed.push(bytes);
        }
    }
}
