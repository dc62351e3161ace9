//! `tenure inspect`: list, show and delete sessions in a Redis or PostgreSQL store.

use std::fmt::Write as _;
use std::time::Duration;

use tenure_core::{Codec, MessagePack, SessionId};
use tenure_store::{Inspect, SessionInfo, StoreError};

/// What to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// List up to this many session ids.
    List(usize),
    /// Show one session.
    Show(SessionId),
    /// Delete one session.
    Delete(SessionId),
}

/// Runs `action`, answering the text to print.
pub async fn run(inspector: &dyn Inspect, action: &Action) -> Result<String, StoreError> {
    match action {
        Action::List(limit) => {
            let ids = inspector.list(*limit).await?;
            let mut out = String::new();
            for id in &ids {
                let _ = writeln!(out, "{id}");
            }
            let _ = writeln!(out, "{} session(s)", ids.len());
            Ok(out)
        }
        Action::Show(sid) => Ok(match inspector.show(sid).await? {
            Some(info) => render(&info),
            None => format!("no session {sid}\n"),
        }),
        Action::Delete(sid) => Ok(if inspector.delete(sid).await? {
            format!("deleted {sid}\n")
        } else {
            format!("no session {sid}\n")
        }),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// A session as text: its metadata, lock, queue and attributes, values decoded as
/// MessagePack where they decode (shown as JSON), else as a size.
pub fn render(info: &SessionInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "session   {}", info.id);
    let _ = writeln!(
        out,
        "version   {} (last fence granted {})",
        info.version, info.last_fence
    );
    let _ = writeln!(
        out,
        "age       {}, idle for {} (timeouts: idle {}, absolute {})",
        secs(info.age),
        secs(info.idle_for),
        info.idle_timeout.map_or("none".into(), secs),
        info.absolute_timeout.map_or("none".into(), secs),
    );
    match &info.lock {
        Some(lock) => {
            let _ = writeln!(
                out,
                "lock      held by {} with fence {}, lease left {}",
                lock.holder,
                lock.fence,
                secs(lock.lease_left)
            );
        }
        None => {
            let _ = writeln!(out, "lock      free");
        }
    }
    if info.queue.is_empty() {
        let _ = writeln!(out, "queue     empty");
    } else {
        for (i, (owner, left)) in info.queue.iter().enumerate() {
            let _ = writeln!(
                out,
                "queue {:>2}  {owner} (must ask again within {})",
                i + 1,
                secs(*left)
            );
        }
    }
    let _ = writeln!(out, "attributes ({}):", info.attrs.len());
    for attr in &info.attrs {
        let shown = match MessagePack.decode::<serde_json::Value>(&attr.value) {
            Ok(v) => {
                let mut text = v.to_string();
                if text.len() > 200 {
                    let mut cut = 200;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                    text.push('…');
                }
                text
            }
            Err(_) => "(not MessagePack)".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<20} v{:<6} {:>8} B  {}",
            attr.name,
            attr.version,
            attr.value.len(),
            shown
        );
    }
    out
}
