//! Hints over sharded pub/sub: one channel per node, one subscriber connection per
//! store handle, and publishing a hint a script asked for. After the subscriber
//! reconnects, it subscribes again and then tells every hint stream [`Hint::Resync`]:
//! hints sent while it was away are lost, so the node re-reads the state of what it
//! holds and waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::types::{Builder, Value};
use tenure_core::sync::lock;
use tenure_core::OwnerId;
use tenure_store::{Hint, HintReceiver, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::hint_code::{hint_payload, parse_hint};
use crate::keys::{channel_owner, hint_channel};
use crate::reply::client_error;

/// Hints buffered per owner before new ones are dropped (hints may be lost).
const HINT_BUFFER: usize = 1024;

type Routes = Arc<Mutex<HashMap<OwnerId, mpsc::Sender<Hint>>>>;

/// The subscriber connection and where its messages go: one hint stream per owner.
#[derive(Debug)]
pub(crate) struct HintHub {
    subscriber: SubscriberClient,
    prefix: String,
    routes: Routes,
    tasks: Vec<JoinHandle<()>>,
}

impl HintHub {
    /// Connects a subscriber built by `builder` for the channels under `prefix`;
    /// while `drop_hints` is on, arriving hints are discarded.
    pub(crate) async fn start(
        builder: Builder,
        prefix: String,
        drop_hints: Arc<AtomicBool>,
    ) -> Result<Self, StoreError> {
        let subscriber = builder.build_subscriber_client().map_err(client_error)?;
        subscriber.init().await.map_err(client_error)?;
        let routes: Routes = Arc::default();

        let mut messages = subscriber.message_rx();
        let forward = {
            let (routes, prefix) = (routes.clone(), prefix.clone());
            tokio::spawn(async move {
                loop {
                    let message = match messages.recv().await {
                        Ok(m) => m,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::debug!(lost = n, "hint subscriber lagged");
                            continue;
                        }
                        Err(_) => return,
                    };
                    if drop_hints.load(Ordering::Relaxed) {
                        continue;
                    }
                    let Some(owner) = channel_owner(&prefix, &message.channel) else {
                        continue;
                    };
                    let Some(hint) = message.value.as_str().and_then(|s| parse_hint(&s)) else {
                        continue;
                    };
                    send(&routes, &owner, hint);
                }
            })
        };

        let mut reconnects = subscriber.reconnect_rx();
        let resync = {
            let (routes, subscriber) = (routes.clone(), subscriber.clone());
            tokio::spawn(async move {
                loop {
                    match reconnects.recv().await {
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    }
                    if let Err(e) = subscriber.resubscribe_all().await {
                        tracing::warn!(error = %e, "hint channels not resubscribed; nodes fall back to polling");
                    }
                    let owners: Vec<OwnerId> = lock(&routes).keys().cloned().collect();
                    for owner in owners {
                        send(&routes, &owner, Hint::Resync);
                    }
                }
            })
        };

        Ok(Self {
            subscriber,
            prefix,
            routes,
            tasks: vec![forward, resync],
        })
    }

    /// Subscribes `owner`'s channel and answers its new hint stream (replacing any
    /// earlier one).
    pub(crate) async fn subscribe(&self, owner: &OwnerId) -> Result<HintReceiver, StoreError> {
        let (tx, rx) = mpsc::channel(HINT_BUFFER);
        {
            let mut routes = lock(&self.routes);
            routes.retain(|_, s| !s.is_closed());
            routes.insert(owner.clone(), tx);
        }
        self.subscriber
            .ssubscribe(hint_channel(&self.prefix, owner))
            .await
            .map_err(client_error)?;
        Ok(rx)
    }

    /// Stops forwarding (so the hint streams end) and closes the connection.
    pub(crate) async fn quit(self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.subscriber.quit().await;
    }
}

fn send(routes: &Routes, owner: &OwnerId, hint: Hint) {
    if let Some(tx) = lock(routes).get(owner) {
        let _ = tx.try_send(hint);
    }
}

/// Publishes `hint` to `to`'s channel under `prefix` in a spawned task: hints are
/// best effort, so a slow or failed publish never delays the caller.
pub(crate) fn publish(client: &Client, prefix: &str, to: &OwnerId, hint: &Hint) {
    let Some(payload) = hint_payload(hint) else {
        return;
    };
    let channel = hint_channel(prefix, to);
    let client = client.clone();
    tokio::spawn(async move {
        if let Err(e) = client.spublish::<Value, _, _>(channel, payload).await {
            tracing::debug!(error = %e, "hint not published");
        }
    });
}
