//! `tenure inspect`: list, show and delete sessions in a Redis or PostgreSQL store,
//! and list a principal's sessions.

use std::fmt::Write as _;
use std::time::Duration;

use tenure_core::principal::principal_of;
use tenure_core::{Codec, MessagePack, SessionId, PRINCIPAL_ATTR};
use tenure_store::{Inspect, PrincipalSession, SessionInfo, Store, StoreError};

use crate::stores::{Backend, StoreUrl};

/// What to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// List up to this many session ids.
    List(usize),
    /// Show one session.
    Show(SessionId),
    /// Delete one session.
    Delete(SessionId),
    /// List the live sessions of a principal, with the label attribute if named.
    SessionsOf {
        /// The principal.
        principal: String,
        /// The attribute to show as each session's label.
        label: Option<String>,
    },
}

/// Opens the store at `url` (under `prefix`), runs `action` on it and closes it,
/// answering the text to print. The embedded store cannot be inspected from outside
/// its process.
pub async fn at_store(
    url: &StoreUrl,
    prefix: &str,
    action: &Action,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let backend = Backend::open(url, prefix).await?;
    let Some(inspector) = backend.inspector() else {
        return Err("tenure inspect needs --store redis://host:port or postgres://... (the memory store lives inside its own process)".into());
    };
    let result = run(inspector.as_ref(), &*backend.shared(), action).await;
    backend.quit().await;
    Ok(result?)
}

/// Runs `action` on the store (`inspector` is its operator view), answering the
/// text to print.
pub async fn run(
    inspector: &dyn Inspect,
    store: &dyn Store,
    action: &Action,
) -> Result<String, StoreError> {
    match action {
        Action::SessionsOf { principal, label } => {
            let listed = store.sessions_of(principal, label.as_deref()).await?;
            Ok(render_sessions_of(principal, &listed))
        }
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

/// A principal's sessions as text, one per line, label values decoded as
/// MessagePack where they decode.
pub fn render_sessions_of(principal: &str, listed: &[PrincipalSession]) -> String {
    let mut out = String::new();
    for s in listed {
        let label = s
            .label
            .as_ref()
            .map(|b| match MessagePack.decode::<serde_json::Value>(b) {
                Ok(serde_json::Value::String(text)) => text.escape_debug().to_string(),
                Ok(v) => v.to_string(),
                Err(_) => format!("({} B, not MessagePack)", b.len()),
            });
        let _ = write!(
            out,
            "{}  created {} ago, idle {}",
            s.id,
            secs(s.age),
            secs(s.idle_for)
        );
        if let Some(label) = label {
            let _ = write!(out, ", label {label}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} live session(s) of {}",
        listed.len(),
        principal.escape_debug()
    );
    out
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
    let principal = info.attrs.iter().find(|a| a.name == PRINCIPAL_ATTR);
    let _ = writeln!(
        out,
        "principal {}",
        principal.map_or("none".into(), |a| match principal_of(&a.value) {
            Some(p) => p.escape_debug().to_string(),
            None => format!("(not a principal, {} B)", a.value.len()),
        })
    );
    let shown_attrs: Vec<_> = info
        .attrs
        .iter()
        .filter(|a| a.name != PRINCIPAL_ATTR)
        .collect();
    let _ = writeln!(out, "attributes ({}):", shown_attrs.len());
    for attr in shown_attrs {
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
            attr.name.escape_debug().to_string(),
            attr.version,
            attr.value.len(),
            shown
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::Bytes;
    use tenure_store::{AttrInfo, Fence};

    fn info(attrs: Vec<AttrInfo>) -> SessionInfo {
        SessionInfo {
            id: SessionId::generate().expect("an id"),
            version: 2,
            age: Duration::from_secs(3),
            idle_for: Duration::from_secs(1),
            idle_timeout: None,
            absolute_timeout: None,
            last_fence: Fence(1),
            lock: None,
            queue: Vec::new(),
            attrs,
        }
    }

    fn attr(name: &str, value: &[u8]) -> AttrInfo {
        AttrInfo {
            name: name.to_string(),
            version: 1,
            value: Bytes::copy_from_slice(value),
        }
    }

    #[test]
    fn the_principal_is_shown_as_text_and_not_as_an_attribute() {
        let counter = MessagePack.encode(&7u32).unwrap();
        let shown = render(&info(vec![
            attr(PRINCIPAL_ATTR, b"user-42"),
            attr("counter", &counter),
        ]));
        assert!(shown.contains("principal user-42\n"), "{shown}");
        assert!(shown.contains("attributes (1):"), "{shown}");
        assert!(!shown.contains('\u{0}'), "{shown}");

        let shown = render(&info(vec![attr("counter", &counter)]));
        assert!(shown.contains("principal none\n"), "{shown}");
    }
}
