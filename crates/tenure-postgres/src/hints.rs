//! Hints over `LISTEN`/`NOTIFY`, on a connection of their own.
//!
//! Each owner's hints go to a channel of its own (`channel(owner)` in the schema: a
//! hash of the schema and the owner id), so a node hears only its hints. The protocol
//! functions `NOTIFY` it; the notification arrives once their transaction commits.
//! The payload is `R` (recall) or `G` (grant) and the session id.
//!
//! The connection is re-established whenever it drops (a restart of the server, a
//! `pg_terminate_backend`): every channel is listened to again and every subscriber
//! gets [`Hint::Resync`], since hints sent meanwhile are lost. Nothing depends on a
//! hint arriving: renewals and waiters' retries carry the same news.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tenure_core::sync::lock;
use tenure_core::SessionId;
use tenure_store::{Hint, HintReceiver};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

/// Hints buffered per owner before new ones are dropped (hints may be lost).
const HINT_BUFFER: usize = 1024;
/// The longest wait between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The hint connection's subscribers, and its client while it is connected.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listener {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    subscribers: Mutex<HashMap<String, mpsc::Sender<Hint>>>,
    client: tokio::sync::Mutex<Option<Client>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("subscribers", &lock(&self.subscribers).len())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Starts the connection's task, which runs until it is aborted.
    pub(crate) fn start(pg: Config, connect_timeout: Duration) -> (Self, AbortHandle) {
        let listener = Self::default();
        let task = tokio::spawn(run(pg, connect_timeout, listener.shared.clone()));
        (listener, task.abort_handle())
    }

    /// The hint stream for the owner whose channel is `channel`; replaces an earlier
    /// stream of that channel. Listens at once if connected, else on connecting.
    pub(crate) async fn subscribe(&self, channel: String) -> HintReceiver {
        let (tx, rx) = mpsc::channel(HINT_BUFFER);
        {
            let mut subscribers = lock(&self.shared.subscribers);
            subscribers.retain(|_, s| !s.is_closed());
            subscribers.insert(channel.clone(), tx);
        }
        if let Some(client) = self.shared.client.lock().await.as_ref() {
            if let Err(e) = listen(client, &channel).await {
                // The connection is going; connecting again listens to every channel.
                tracing::debug!(error = %e, "LISTEN failed");
            }
        }
        rx
    }
}

/// `LISTEN channel`, for a channel name the schema made (checked: it goes into SQL).
async fn listen(client: &Client, channel: &str) -> Result<(), tokio_postgres::Error> {
    if channel.is_empty()
        || !channel
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        tracing::warn!("a hint channel name is not a plain identifier; not listening");
        return Ok(());
    }
    client.batch_execute(&format!("LISTEN {channel}")).await
}

impl Shared {
    fn dispatch(&self, channel: &str, payload: &str) {
        let hint = match payload.split_at_checked(1) {
            Some(("R", sid)) => SessionId::parse(sid).ok().map(Hint::Recall),
            Some(("G", sid)) => SessionId::parse(sid).ok().map(Hint::Grant),
            _ => None,
        };
        let Some(hint) = hint else {
            tracing::debug!("a notification that is not a hint; ignored");
            return;
        };
        if let Some(tx) = lock(&self.subscribers).get(channel) {
            let _ = tx.try_send(hint);
        }
    }

    /// Listens to every subscriber's channel on the new connection; after a
    /// reconnect, tells every subscriber that hints may have been lost.
    async fn listen_all(&self, resync: bool) {
        let channels: Vec<String> = lock(&self.subscribers).keys().cloned().collect();
        if let Some(client) = self.client.lock().await.as_ref() {
            for channel in &channels {
                if let Err(e) = listen(client, channel).await {
                    tracing::debug!(error = %e, "LISTEN failed");
                    return;
                }
            }
        }
        if resync {
            for tx in lock(&self.subscribers).values() {
                let _ = tx.try_send(Hint::Resync);
            }
        }
    }
}

async fn run(pg: Config, connect_timeout: Duration, shared: Arc<Shared>) {
    let mut connected_before = false;
    let mut backoff = Duration::from_millis(50);
    loop {
        match tokio::time::timeout(connect_timeout, pg.connect(NoTls)).await {
            Ok(Ok((client, mut connection))) => {
                backoff = Duration::from_millis(50);
                *shared.client.lock().await = Some(client);
                let drive = async {
                    let mut messages =
                        futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                shared.dispatch(n.channel(), n.payload())
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the PostgreSQL hint connection failed");
                                break;
                            }
                        }
                    }
                };
                tokio::join!(drive, shared.listen_all(connected_before));
                connected_before = true;
                *shared.client.lock().await = None;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "the hint connection could not connect"),
            Err(_) => tracing::debug!("the hint connection timed out connecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
