//! The recommenders the stages share, as pure functions over data: matrix
//! factorisation ([`als`]), the nearest articles of a factor model
//! ([`neighbours`]) and the most-read list ([`popularity`]).

pub mod als;
pub mod neighbours;
pub mod popularity;
