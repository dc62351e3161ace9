//! The demo's HTML side: the page at `/` (inline CSS, no external assets), telling a
//! browser's form post from an API call, and the 303 back to the page.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use tenure_core::Consistency;
use tenure_node::NodeStats;

/// Form posts a session remembers for the page (with the node that served each).
pub const HISTORY_LEN: usize = 6;

/// True if the request came from an HTML form in a browser: it accepts `text/html`,
/// or it sends a form body without asking for JSON. Such requests are answered with
/// 303 See Other back to `/`; API clients get JSON or plain text.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let value = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
            .to_ascii_lowercase()
    };
    let accept = value(header::ACCEPT);
    let content_type = value(header::CONTENT_TYPE);
    let form = content_type.starts_with("application/x-www-form-urlencoded")
        || content_type.starts_with("multipart/form-data");
    accept.contains("text/html") || (form && !accept.contains("application/json"))
}

/// 303 See Other to `/`: the browser loads the page again with a GET.
pub fn back_home() -> Response {
    Redirect::to("/").into_response()
}

/// A refused form post, as a page with a way back.
pub fn refused(status: StatusCode, why: &str, node: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Tenure demo</title>\
         <style>{CSS}</style></head><body><main><h1>Not done</h1>\
         <p class=error>{status}: {why}</p><p>Answered by <b>{node}</b>.</p>\
         <p><a href=/>Back</a></p></main></body></html>",
        why = escape(why),
        node = escape(node),
    );
    (status, Html(body)).into_response()
}

/// What the page shows.
#[derive(Debug)]
pub struct Page<'a> {
    /// The node serving this page.
    pub node: &'a str,
    /// The nodes' consistency mode.
    pub mode: Consistency,
    /// The session id's first characters, if there is a session.
    pub id: Option<String>,
    /// The logged-in user.
    pub user: Option<String>,
    /// The counter.
    pub counter: u64,
    /// The cart.
    pub cart: Vec<String>,
    /// Earlier form posts of this session and the node that served each, newest last.
    pub history: Vec<String>,
    /// Every node's counters, by node name.
    pub stats: Vec<(String, NodeStats)>,
}

const CSS: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:40rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:0 0 .5rem}\
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1rem;margin:1rem 0}\
.served>b:first-child{background:#1f6feb;color:#fff;border-radius:4px;padding:0 .4rem}\
.big{font-size:2rem;font-weight:700;margin:0 1rem 0 0}\
form{display:inline-flex;gap:.4rem;margin:.25rem .5rem .25rem 0}\
input{font:inherit;padding:.25rem .5rem;border:1px solid #b8c0cc;border-radius:4px}\
button{font:inherit;padding:.25rem .8rem;border:0;border-radius:4px;background:#1f6feb;color:#fff;cursor:pointer}\
button.quiet{background:#6b7385}\
table{border-collapse:collapse}td,th{padding:.1rem .8rem .1rem 0;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
ol{margin:0;padding-left:1.4rem}.muted{color:#6b7385}.error{color:#b42318;font-weight:600}\
code{background:#eef0f4;padding:0 .3rem;border-radius:3px}";

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn list(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        return format!("<p class=muted>{empty}</p>");
    }
    let items: String = items
        .iter()
        .map(|i| format!("<li>{}</li>", escape(i)))
        .collect();
    format!("<ol>{items}</ol>")
}

impl Page<'_> {
    /// The node counters that mean something in this mode, one row per node.
    fn stats_table(&self) -> String {
        let exclusive = self.mode == Consistency::Exclusive;
        let (head, cells): (&str, fn(&NodeStats) -> [u64; 3]) = if exclusive {
            (
                "<th>handoffs (recalls)</th><th>tenures granted</th><th>near-cache hits</th>",
                |s| [s.recalls, s.grants, s.cache_hits],
            )
        } else {
            (
                "<th>writes</th><th>conflicts</th><th>bytes written</th>",
                |s| [s.commits, s.conflicts, s.commit_bytes],
            )
        };
        let mut total = [0u64; 3];
        let mut rows = String::new();
        for (name, stats) in &self.stats {
            let values = cells(stats);
            for (t, v) in total.iter_mut().zip(values) {
                *t += v;
            }
            let here = if name == self.node { " (this one)" } else { "" };
            rows.push_str(&format!(
                "<tr><td>{}{here}</td>{}</tr>",
                escape(name),
                values.map(|v| format!("<td class=n>{v}</td>")).concat()
            ));
        }
        if self.stats.len() > 1 {
            rows.push_str(&format!(
                "<tr><th>all nodes</th>{}</tr>",
                total
                    .map(|v| format!("<td class=n><b>{v}</b></td>"))
                    .concat()
            ));
        }
        format!("<table><tr><th>node</th>{head}</tr>{rows}</table>")
    }

    /// The page's HTML.
    pub fn render(&self) -> String {
        let node = escape(self.node);
        let id = self.id.as_deref().map_or("(none yet)".into(), |i| {
            format!("<code>{}</code>", escape(i))
        });
        let user = self
            .user
            .as_deref()
            .map_or("<span class=muted>not logged in</span>".into(), |u| {
                format!("<b>{}</b>", escape(u))
            });
        format!(
            "<!doctype html><html lang=en><head><meta charset=utf-8>\
             <meta name=viewport content=\"width=device-width,initial-scale=1\">\
             <title>Tenure demo</title><style>{CSS}</style></head><body><main>\
             <h1>Tenure demo</h1>\
             <p class=served>Served by <b>{node}</b> · mode {mode:?} · \
             session {id} · user {user}</p>\
             <section><h2>Counter</h2><span class=big>Counter: <b>{counter}</b></span>\
             <form method=post action=/counter><button>Increment</button></form></section>\
             <section><h2>Cart</h2>{cart}\
             <form method=post action=/cart><input name=item placeholder=item required maxlength=100>\
             <button>Add</button></form></section>\
             <section><h2>Login</h2>\
             <form method=post action=/login><input name=user placeholder=user required maxlength=100>\
             <button>Log in</button></form>\
             <form method=post action=/logout><button class=quiet>Log out</button></form>\
             <p><a href=/devices>Your devices</a></p></section>\
             <section><h2>Your last form posts</h2>{history}</section>\
             <section><h2>Nodes</h2>{stats}\
             <p class=muted>A handoff is a session given up by one node because another \
             asked for it.</p></section>\
             </main></body></html>",
            mode = self.mode,
            counter = self.counter,
            cart = list(&self.cart, "empty"),
            history = list(&self.history, "none yet"),
            stats = self.stats_table(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn browsers_get_html_and_api_clients_do_not() {
        let form = "application/x-www-form-urlencoded";
        assert!(wants_html(&headers(&[("accept", "text/html,*/*;q=0.8")])));
        assert!(wants_html(&headers(&[("content-type", form)])));
        assert!(wants_html(&headers(&[
            ("content-type", form),
            ("accept", "*/*")
        ])));
        assert!(!wants_html(&headers(&[
            ("content-type", form),
            ("accept", "application/json")
        ])));
        assert!(!wants_html(&headers(&[(
            "content-type",
            "application/json"
        )])));
        assert!(!wants_html(&headers(&[])));
        assert!(!wants_html(&headers(&[("accept", "*/*")])));
    }

    #[test]
    fn the_page_escapes_what_users_typed() {
        let page = Page {
            node: "node-1",
            mode: Consistency::Exclusive,
            id: None,
            user: Some("<script>".into()),
            counter: 3,
            cart: vec!["a&b".into()],
            history: vec![],
            stats: vec![("node-1".into(), NodeStats::default())],
        };
        let html = page.render();
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("<li>a&amp;b</li>"));
        assert!(html.contains("Counter: <b>3</b>"));
        assert!(html.contains("node-1 (this one)"));
    }
}
