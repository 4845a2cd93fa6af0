//! Each dialect's migrations, compiled in: the files under `migrations/`,
//! listed here rather than found by sqlx's `migrate!` macro, whose
//! proc-macro builds both database drivers (and SQLite's C library) a
//! second time for the compiler, in every clean build, for this one list.
//!
//! A migration's version and description come from its file name and its
//! checksum is SHA-384 of its text, exactly as `migrate!` makes them, so a
//! database migrated by either accepts the other. The test below fails when
//! a file is added without being listed here, or listed under another name.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlStr;

/// A migration file: its version, its description and its SQL.
type Embedded = (i64, &'static str, &'static str);

macro_rules! migration {
    ($dialect:literal, $version:literal, $description:literal) => {
        (
            $version,
            $description,
            include_str!(concat!(
                "../../../migrations/",
                $dialect,
                "/",
                stringify!($version),
                "_",
                $description,
                ".sql"
            )),
        )
    };
}

const SQLITE: &[Embedded] = &[
    migration!("sqlite", 20261123000001, "initial"),
    migration!("sqlite", 20261202000001, "article_text"),
    migration!("sqlite", 20261207000001, "model_evaluation"),
];

const POSTGRES: &[Embedded] = &[
    migration!("postgres", 20261123000001, "initial"),
    migration!("postgres", 20261202000001, "article_text"),
    migration!("postgres", 20261207000001, "model_evaluation"),
];

fn migrator(list: &[Embedded]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    // the file name's underscores read as spaces, as sqlx names them
                    Cow::Owned(description.replace('_', " ")),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

pub(super) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

pub(super) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `migrate!` would embed for a directory: sqlx's own resolver.
    fn resolved(dialect: &str) -> Vec<Migration> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        sqlx::migrate::resolve_blocking(&dir)
            .unwrap()
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }

    #[test]
    fn every_migration_file_is_listed_as_sqlx_would_read_it() {
        for (dialect, migrator) in [("sqlite", sqlite()), ("postgres", postgres())] {
            let listed: Vec<&Migration> = migrator.iter().collect();
            let files = resolved(dialect);
            assert_eq!(
                listed.len(),
                files.len(),
                "{dialect}: a migration file is not listed"
            );
            for (l, f) in listed.iter().zip(&files) {
                assert_eq!(
                    (l.version, &l.description, l.migration_type, l.no_tx),
                    (f.version, &f.description, f.migration_type, f.no_tx),
                    "{dialect}"
                );
                assert_eq!(l.checksum, f.checksum, "{dialect} {}: checksum", l.version);
                assert_eq!(l.sql.as_str(), f.sql.as_str());
            }
        }
    }
}
