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
//! | `POST /items/fill?n=N` | stores a cart of `N` [`CartItem`]s of about 100 bytes each |
//! | `POST /items/set?i=I&q=Q` | sets item `I`'s quantity to `Q` |
//! | `POST /items/replace?i=I&sku=S` | replaces item `I` by a new item `S` of the same size |

use serde::{Deserialize, Serialize};

/// The counter attribute: a `u64`.
pub const COUNTER: &str = "counter";
/// The cart attribute: a list of item names.
pub const CART: &str = "cart";
/// The note attribute: a short string the client chooses.
pub const NOTE: &str = "note";
/// The filler attribute: a string of a configured size.
pub const BLOB: &str = "blob";
/// The large cart attribute of workload (f): a list of [`CartItem`]s.
pub const ITEMS: &str = "items";
/// Most items a large cart may be filled with.
pub const MAX_ITEMS: usize = 5_000;
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

/// One line of the large cart: about 100 bytes in MessagePack with field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItem {
    /// Stock-keeping unit.
    pub sku: String,
    /// What it is called.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// Unit price.
    pub price_cents: u64,
}

/// The item a cart is filled with at place `i`, or that replaces one (`sku`).
pub fn cart_item(sku: &str) -> CartItem {
    CartItem {
        sku: format!("{sku:>10}"),
        name: format!("Product {sku:>10}, a plain description of it"),
        quantity: 1,
        price_cents: 1_999,
    }
}

/// A cart of `n` items, or `None` when too large.
pub fn filled_cart(n: usize) -> Option<Vec<CartItem>> {
    (n <= MAX_ITEMS).then(|| (0..n).map(|i| cart_item(&format!("sku-{i}"))).collect())
}

/// `?n=`
#[derive(Debug, Deserialize)]
pub struct FillQuery {
    /// Items in the cart.
    pub n: usize,
}

/// `?i=&q=`
#[derive(Debug, Deserialize)]
pub struct QuantityQuery {
    /// The item's place.
    pub i: usize,
    /// Its new quantity.
    pub q: u32,
}

/// `?i=&sku=`
#[derive(Debug, Deserialize)]
pub struct ReplaceQuery {
    /// The item's place.
    pub i: usize,
    /// The new item's SKU.
    pub sku: String,
}

/// Sets item `i`'s quantity; false if there is no such item.
pub fn set_quantity(cart: &mut [CartItem], i: usize, q: u32) -> bool {
    cart.get_mut(i).map(|item| item.quantity = q).is_some()
}

/// Replaces item `i`; false if there is no such item or the SKU is not acceptable.
pub fn replace_item(cart: &mut [CartItem], i: usize, sku: &str) -> bool {
    if !valid_text(sku) || sku.len() > 10 {
        return false;
    }
    cart.get_mut(i).map(|item| *item = cart_item(sku)).is_some()
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
    fn a_cart_item_is_about_100_bytes() {
        let one = rmp_serde::to_vec_named(&cart_item("sku-499"))
            .unwrap()
            .len();
        assert!((90..=110).contains(&one), "{one} bytes");
        let mut cart = filled_cart(500).unwrap();
        assert!(set_quantity(&mut cart, 499, 7));
        assert!(!set_quantity(&mut cart, 500, 7));
        assert!(replace_item(&mut cart, 3, "new-3"));
        assert_eq!(cart[3].sku, "     new-3");
        assert!(filled_cart(MAX_ITEMS + 1).is_none());
    }

    #[test]
    fn oversized_input_is_refused() {
        assert!(blob(MAX_BLOB + 1).is_none());
        assert_eq!(blob(3).as_deref(), Some("bbb"));
        assert!(!valid_text(""));
        assert!(!valid_text(&"x".repeat(MAX_TEXT + 1)));
    }
}
