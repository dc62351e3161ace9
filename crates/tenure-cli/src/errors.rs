//! How the `tenure` command prints an error: its message, then each cause in its
//! [`source`](std::error::Error::source) chain on a line of its own.

use std::error::Error;

/// `error: {e}` followed by one `  caused by: {source}` line per cause, each line
/// ending in a newline. A cause whose text already ends the message before it (an
/// error that prints its source as well as returning it) is not repeated.
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("could not start")]
/// struct Outer(#[source] std::io::Error);
///
/// let e = Outer(std::io::Error::other("port taken"));
/// assert_eq!(
///     tenure_cli::errors::describe(&e),
///     "error: could not start\n  caused by: port taken\n"
/// );
/// ```
pub fn describe(e: &(dyn Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut out = format!("error: {last}\n");
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !last.ends_with(&text) {
            out.push_str(&format!("  caused by: {text}\n"));
        }
        last = text;
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_gets_a_line() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Middle);
        #[derive(Debug, thiserror::Error)]
        #[error("middle")]
        struct Middle(#[source] std::io::Error);
        let e = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(
            describe(&e),
            "error: outer\n  caused by: middle\n  caused by: inner\n"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Middle);
        #[derive(Debug, thiserror::Error)]
        #[error("middle: {0}")]
        struct Middle(#[source] std::io::Error);
        let e = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(describe(&e), "error: outer\n  caused by: middle: inner\n");
    }
}
