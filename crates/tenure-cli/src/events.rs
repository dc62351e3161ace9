//! `tenure events`: print a store's session events, one per line, from a position,
//! and with `--follow` go on printing new ones until stopped.

use std::io::Write;

use tenure_store::{EventId, EventKind, SessionEvent, Store, StoreError};

/// The most events one read asks for.
const BATCH: usize = 1000;

/// One event as a line: id, session, kind, and what it names (the new id, the
/// principal, escaped).
pub fn line(event: &SessionEvent) -> String {
    let detail = match &event.kind {
        EventKind::Rotated { to } => format!(" {to}"),
        EventKind::PrincipalSet { principal } => format!(" {}", principal.escape_debug()),
        _ => String::new(),
    };
    format!(
        "{} {} {}{detail}",
        event.id,
        event.session,
        event.kind.name()
    )
}

/// Prints every event after `after` to `out`; with `follow`, then waits for new ones
/// until `stop` resolves. Answers the position reached (the id of the last event
/// printed, or `after`). A gap in the log (events dropped before they were read) is
/// printed as a `# missed` line.
pub async fn print(
    store: &dyn Store,
    after: Option<EventId>,
    follow: bool,
    out: &mut (dyn Write + Send),
    stop: impl std::future::Future<Output = ()>,
) -> Result<Option<EventId>, StoreError> {
    tokio::pin!(stop);
    let mut position = after;
    loop {
        let batch = store.events(position, BATCH).await?;
        if batch.missed {
            let _ = writeln!(
                out,
                "# missed: events after {} were dropped from the log",
                position.unwrap_or_default()
            );
        }
        let read = batch.events.len();
        for event in &batch.events {
            let _ = writeln!(out, "{}", line(event));
            position = Some(event.id);
        }
        let _ = out.flush();
        if read == BATCH {
            continue;
        }
        if !follow {
            return Ok(position);
        }
        tokio::select! {
            () = &mut stop => return Ok(position),
            () = tokio::time::sleep(tenure_node::EVENT_POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenure_core::SessionId;

    #[test]
    fn lines_name_the_event_and_escape_the_principal() {
        let sid = SessionId::generate().unwrap();
        let event = SessionEvent {
            id: EventId { major: 7, minor: 1 },
            session: sid.clone(),
            kind: EventKind::PrincipalSet {
                principal: "ada\u{1b}[31m".into(),
            },
        };
        assert_eq!(
            line(&event),
            format!("7-1 {sid} principal ada\\u{{1b}}[31m")
        );
    }
}
