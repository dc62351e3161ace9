//! The one small app every system serves, written once per framework in
//! [`crate::systems`] with the same routes and the same session contents.
//!
//! | route | does |
//! |---|---|
//! | `GET /counter` | reads the counter (0 if none) |
//! | `POST /counter` | adds 1 to the counter, answers the new value |
//! | `POST /cart?item=NAME` | appends to the cart, which keeps its last [`CART_MAX`] items |
//! | `POST /note?v=TEXT` | replaces the 10-byte note |
//! | `POST /blob?size=N` | stores a filler of `N` bytes |

use serde::Deserialize;

/// The counter attribute: a `u64`.
pub const COUNTER: &str = "counter";
/// The cart attribute: a list of item names.
pub const CART: &str = "cart";
/// The note attribute: a short string the client chooses.
pub const NOTE: &str = "note";
/// The filler attribute: a string of a configured size.
pub const BLOB: &str = "blob";
/// Most items the cart keeps; older ones drop off the front.
pub const CART_MAX: usize = 20;
/// Largest filler the app accepts.
pub const MAX_BLOB: usize = 4 << 20;
/// Longest cart item or note accepted.
pub const MAX_TEXT: usize = 64;

/// `?item=`
#[derive(Debug, Deserialize)]
pub struct ItemQuery {
    /// The item's name.
    pub item: String,
}

/// `?v=`
#[derive(Debug, Deserialize)]
pub struct NoteQuery {
    /// The new note.
    pub v: String,
}

/// `?size=`
#[derive(Debug, Deserialize)]
pub struct BlobQuery {
    /// The filler's size in bytes.
    pub size: usize,
}

/// Whether a cart item or note is acceptable.
pub fn valid_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TEXT
}

/// The filler of `size` bytes, or `None` when too large.
pub fn blob(size: usize) -> Option<String> {
    (size <= MAX_BLOB).then(|| "b".repeat(size))
}

/// Appends `item`, dropping the oldest beyond [`CART_MAX`].
pub fn push_item(cart: &mut Vec<String>, item: String) {
    cart.push(item);
    if cart.len() > CART_MAX {
        let extra = cart.len() - CART_MAX;
        cart.drain(..extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cart_keeps_its_last_items() {
        let mut cart = Vec::new();
        for i in 0..CART_MAX + 5 {
            push_item(&mut cart, format!("i{i}"));
        }
        assert_eq!(cart.len(), CART_MAX);
        assert_eq!(cart[0], "i5");
    }

    #[test]
    fn oversized_input_is_refused() {
        assert!(blob(MAX_BLOB + 1).is_none());
        assert_eq!(blob(3).as_deref(), Some("bbb"));
        assert!(!valid_text(""));
        assert!(!valid_text(&"x".repeat(MAX_TEXT + 1)));
    }
}
