//! Hints over sharded pub/sub: one channel per node, one subscriber connection per
//! store handle. After the subscriber reconnects, it subscribes again and then tells
//! every hint stream [`Hint::Resync`]: hints sent while it was away are lost, so the
//! node re-reads the state of what it holds and waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use fred::clients::SubscriberClient;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use tenure_core::{OwnerId, SessionId};
use tenure_store::{Hint, HintReceiver, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::keys::{channel_owner, hint_channel};
use crate::reply::client_error;
use crate::store::Inner;

/// Hints buffered per owner before new ones are dropped (hints may be lost).
const HINT_BUFFER: usize = 1024;

type Routes = Arc<Mutex<HashMap<OwnerId, mpsc::Sender<Hint>>>>;

#[derive(Debug)]
pub(crate) struct HintHub {
    subscriber: SubscriberClient,
    prefix: String,
    routes: Routes,
    tasks: Vec<JoinHandle<()>>,
}

impl HintHub {
    pub(crate) async fn start(
        inner: &Inner,
        drop_hints: Arc<AtomicBool>,
    ) -> Result<Self, StoreError> {
        let subscriber = inner
            .subscriber_builder()
            .build_subscriber_client()
            .map_err(client_error)?;
        subscriber.init().await.map_err(client_error)?;
        let prefix = inner.config.prefix.clone();
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

fn lock(routes: &Routes) -> std::sync::MutexGuard<'_, HashMap<OwnerId, mpsc::Sender<Hint>>> {
    routes.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_hint(payload: &str) -> Option<Hint> {
    let (kind, sid) = payload.split_at_checked(1)?;
    let sid = SessionId::parse(sid).ok()?;
    match kind {
        "R" => Some(Hint::Recall(sid)),
        "G" => Some(Hint::Grant(sid)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_parse_and_reject_garbage() {
        let sid = SessionId::generate().unwrap();
        assert_eq!(
            parse_hint(&format!("R{}", sid.as_str())),
            Some(Hint::Recall(sid.clone()))
        );
        assert_eq!(
            parse_hint(&format!("G{}", sid.as_str())),
            Some(Hint::Grant(sid.clone()))
        );
        assert_eq!(parse_hint(&format!("X{}", sid.as_str())), None);
        assert_eq!(parse_hint("R"), None);
        assert_eq!(parse_hint(""), None);
        assert_eq!(parse_hint("Rnot an id"), None);
    }
}
