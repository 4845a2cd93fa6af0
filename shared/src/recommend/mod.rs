//! The recommenders, as pure functions over data. Every item-item family
//! implements [`item_item::ItemItem`] over the same [`reads::Reads`]:
//! matrix factorisation ([`als`], served by [`factor_cosine`]), [`item_knn`],
//! [`sequential_rules`], [`ease`], content neighbours ([`content_tfidf`],
//! and [`content_embedding`] over an operator's [`model2vec`] model),
//! their blend ([`hybrid`]), and the [`baselines`] they must beat.
//! [`neighbours`] holds the top-k machinery, [`popularity`] the defaults' rule.
//! What selection measures are the [`families`], one file each behind
//! [`family::Family`]: a name, a grid and a fit over those models.

pub mod als;
pub mod baselines;
pub mod content_embedding;
pub mod content_tfidf;
pub mod ease;
pub mod factor_cosine;
pub mod families;
pub mod family;
pub mod hybrid;
pub mod item_item;
pub mod item_knn;
pub mod model2vec;
pub mod neighbours;
pub mod popularity;
pub mod reads;
pub mod sequential_rules;
pub mod spd_inverse;
