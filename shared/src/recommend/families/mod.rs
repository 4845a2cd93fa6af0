//! Every model family selection measures, one file each, in the order the
//! grid measures them (cheapest first, so a time budget cuts the expensive
//! ones). A new family is one file here and one line in the list below:
//! settings (`MODEL_FAMILIES`) and selection find it through [`FAMILIES`].

use crate::recommend::family::Family;

macro_rules! families {
    ($($(#[$attr:meta])* $module:ident),* $(,)?) => {
        $($(#[$attr])* pub mod $module;)*

        /// Every family, in measuring order.
        pub static FAMILIES: &[&dyn Family] = &[$($(#[$attr])* &$module::FAMILY,)*];
    };
}

families![
    popularity,
    most_read,
    trending,
    sequential_rules,
    item_knn,
    als,
    ease,
    content,
    embedding,
    hybrid,
    #[cfg(test)]
    least_read,
];

/// The names `MODEL_FAMILIES` accepts (every family but those always measured).
pub fn selectable() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().filter(|f| !f.always()).map(|f| f.name())
}

/// `MODEL_FAMILIES`' default.
pub fn by_default() -> impl Iterator<Item = &'static str> {
    FAMILIES
        .iter()
        .filter(|f| !f.always() && f.by_default())
        .map(|f| f.name())
}
