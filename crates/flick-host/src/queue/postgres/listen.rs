//! Hearing about other hosts' events: a connection of its own that
//! `LISTEN`s on the queue's channel and wakes the dispatcher of the function
//! each notification names. When the connection is lost (the database
//! restarted) it connects again, and then wakes every dispatcher, since
//! notifications sent meanwhile were lost.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{AsyncMessage, Config, NoTls};

use super::rows::CHANNEL;
use crate::queue::wakes::Wakes;

/// How long to wait before connecting again.
const RECONNECT: Duration = Duration::from_secs(1);

/// Listens until the task is aborted.
pub(super) async fn run(config: Config, wakes: Arc<Wakes>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                // Ends only if LISTEN fails: then the connection is dropped
                // and made again, as when it is lost.
                let listen = async {
                    match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                        Ok(()) => {
                            wakes.wake_all();
                            std::future::pending::<()>().await;
                        }
                        Err(e) => tracing::warn!("queue: cannot LISTEN: {e}"),
                    }
                };
                // The client's LISTEN is carried by the connection, which
                // must be polled meanwhile; afterwards it only brings
                // notifications, until it ends.
                let messages = async {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => wakes.wake(n.payload()),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("queue: lost the notification connection: {e}");
                                break;
                            }
                        }
                    }
                };
                tokio::select! {
                    () = listen => {}
                    () = messages => {}
                }
                wakes.wake_all();
            }
            Err(e) => tracing::warn!("queue: cannot connect to listen for events: {e}"),
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
