//! Credentials out of anything that may be logged or printed.
//!
//! A URL the job is configured with (a database, a store, a site) is shown
//! through [`redact_url`], which parses it as the drivers do: its password
//! and the values of secret-named query parameters become `***`, and a URL
//! whose user info does not parse as written is not shown beyond its
//! scheme. Free text (an error message, a Debug dump) goes through
//! [`redact`], which also takes out libpq-style `password=...` pairs.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// Marks the value of every pair whose key contains one of these (lower case).
const SECRET_KEYS: [&str; 6] = ["pass", "pwd", "secret", "token", "key", "credential"];

/// What a configured URL (or libpq connection string) may show: parsed, its
/// password and every secret-named query parameter's value replaced by
/// `***`, its fragment dropped. When the text does not parse as a URL, or
/// its user info does not parse as written (a password with an unencoded
/// `/`, `?` or `#` moves part of it into the host, path or query), only the
/// scheme is shown: no delimiter can be trusted there.
pub fn redact_url(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return redact(raw);
    };
    let scheme: String = scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c))
        .collect();
    let hidden = |why: &str| format!("{scheme}://(not shown: {why})");
    let Ok(mut url) = url::Url::parse(raw) else {
        return hidden("it does not parse as a URL");
    };
    // the writer's user info runs to the last `@`; the parser must agree
    if let Some(at) = rest.rfind('@') {
        let meant = rest[..at].split_once(':').map(|(_, p)| decode(p));
        let parsed = url.password().map(decode);
        if meant != parsed {
            return hidden("its user info does not parse as written; percent-encode the password");
        }
    }
    if url.password().is_some() && url.set_password(Some("***")).is_err() {
        return hidden("it has no host");
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let any_secret = pairs.iter().any(|(k, _)| is_secret(k));
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            if is_secret(k) || (any_secret && v.is_empty()) {
                // a bare word beside a secret may be the rest of it (an unencoded `&`)
                if is_secret(k) {
                    query.append_pair(k, "***");
                } else {
                    query.append_key_only("***");
                }
            } else {
                query.append_pair(k, v);
            }
        }
        let query = query.finish();
        url.set_query(Some(&query));
    }
    url.set_fragment(None);
    url.to_string()
}

fn decode(s: &str) -> Cow<'_, str> {
    percent_decode_str(s).decode_utf8_lossy()
}

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| key.contains(s))
}

/// The text with every credential it carries replaced by `***`: every URL in
/// it (a Debug dump may hold several) and every secret-named pair. Where the
/// URLs are known, [`redact_url`] each instead: free text has no reliable
/// end to a URL.
pub fn redact(text: &str) -> String {
    let mut users = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, after) = rest.split_at(i + 3);
        users.push_str(head);
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | ',' | ')') || c.is_whitespace())
            .unwrap_or(after.len());
        let (authority, tail) = after.split_at(end);
        match authority.rsplit_once('@') {
            Some((info, host)) => {
                match info.split_once(':') {
                    Some((user, _)) => {
                        users.push_str(user);
                        users.push_str(":***");
                    }
                    None => users.push_str(info),
                }
                users.push('@');
                users.push_str(host);
            }
            None => users.push_str(authority),
        }
        rest = tail;
    }
    users.push_str(rest);
    let mut out = String::with_capacity(users.len());
    redact_pairs(&users, &mut out);
    out
}

/// Copies `text` to `out`, the values of secret-named `key=value` pairs
/// replaced. A pair starts at the text's start or after `?`, `&`, `;` or
/// white space; a value ends at `&`, `;`, `#` or white space, or is quoted.
fn redact_pairs(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut key_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b'?' | b'&' | b';') || b.is_ascii_whitespace() {
            out.push(b as char);
            i += 1;
            key_start = i;
            continue;
        }
        if b != b'=' {
            let ch = text[i..].chars().next().unwrap_or('\u{FFFD}');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        out.push('=');
        i += 1;
        if !is_secret(&text[key_start..i - 1]) {
            continue;
        }
        let end = match bytes.get(i) {
            Some(&q @ (b'\'' | b'"')) => text[i + 1..].find(q as char).map_or(bytes.len(), |e| i + e + 2),
            _ => text[i..]
                .find(|c: char| matches!(c, '&' | ';' | '#' | '"') || c.is_whitespace())
                .map_or(bytes.len(), |e| i + e),
        };
        if end > i {
            out.push_str("***");
        }
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::redact as redact_url;

    #[test]
    fn user_info_passwords_go_and_user_names_stay() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/recs"),
            "postgres://app:***@db:5432/recs"
        );
        assert_eq!(redact_url("postgres://app@db/recs"), "postgres://app@db/recs");
        assert_eq!(
            redact_url("https://wp:p%40ss@site.example/wp-json"),
            "https://wp:***@site.example/wp-json"
        );
        // an @ in the path is not user info
        assert_eq!(redact_url("s3://bucket/a@b"), "s3://bucket/a@b");
    }

    #[test]
    fn secret_query_parameters_go_whatever_the_scheme() {
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=p&sslmode=require"),
            "postgres://host/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("mysql://db.internal/recs?password=hunter2"),
            "mysql://db.internal/recs?password=***"
        );
        assert_eq!(
            redact_url("postgresql://u:a@h/d?sslpassword=x&PASSWORD=y#frag"),
            "postgresql://u:***@h/d?sslpassword=***&PASSWORD=***#frag"
        );
        assert_eq!(redact_url("https://x/?api_token=abc"), "https://x/?api_token=***");
    }

    #[test]
    fn key_value_connection_strings_and_plain_text() {
        assert_eq!(
            redact_url("host=db user=u password=hunter2 dbname=recs"),
            "host=db user=u password=*** dbname=recs"
        );
        assert_eq!(
            redact_url("host=db password='two words' port=5432"),
            "host=db password=*** port=5432"
        );
        assert_eq!(
            redact_url("sqlite://local/article-rec.sqlite"),
            "sqlite://local/article-rec.sqlite"
        );
        assert_eq!(
            redact_url("plain text, nothing secret"),
            "plain text, nothing secret"
        );
        assert_eq!(redact_url("password="), "password=");
        assert_eq!(redact_url("é?password=ü"), "é?password=***");
        // a Debug dump with several URLs
        assert_eq!(
            redact_url(r#"A { db: "postgres://a:b@h/d", wp: Some("https://c:d@w/x?token=t") }"#),
            r#"A { db: "postgres://a:***@h/d", wp: Some("https://c:***@w/x?token=***") }"#
        );
    }

    use super::redact_url as shown;
    use proptest::prelude::*;

    #[test]
    fn a_configured_url_is_parsed_not_scanned() {
        // a delimiter in the password once ended the scan there
        for pw in ["Pw,S3cret", "a)b", "a'b", "a\"b", "a b", "p@ss", "a:b"] {
            let out = shown(&format!("postgres://postgres:{pw}@127.0.0.1:5432/db"));
            assert_eq!(out, "postgres://postgres:***@127.0.0.1:5432/db", "{pw}");
        }
        assert_eq!(
            shown("postgres://h/db?user=u&password=a%22b%20c&sslmode=require#x"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            shown("postgres://h/db?password=a\"b c"),
            "postgres://h/db?password=***"
        );
        // an unencoded `&` in a secret: its tail is not shown either
        assert_eq!(
            shown("postgres://h/db?password=a&rest"),
            "postgres://h/db?password=***&***"
        );
        // a password that moves into the port, path or query: only the scheme
        for raw in [
            "postgres://u:12/ss@h/db",
            "postgres://u:1?b@h/db",
            "postgres://u:a#b@h/db",
        ] {
            let out = shown(raw);
            assert!(out.starts_with("postgres://(not shown: "), "{raw} -> {out}");
        }
        assert_eq!(
            shown("sqlite://local/article-rec.sqlite"),
            "sqlite://local/article-rec.sqlite"
        );
        assert_eq!(shown("s3://bucket/prefix"), "s3://bucket/prefix");
        assert_eq!(
            shown("host=db password='x y' port=5"),
            "host=db password=*** port=5"
        );
    }

    fn password() -> impl Strategy<Value = String> {
        // any printable ASCII, long enough not to be a piece of the rest of the URL
        proptest::string::string_regex("[ -~]{6,24}")
            .unwrap()
            .prop_filter("not inside the URL's other parts", |p| {
                !"postgres://app:@db.internal:5432/recs?sslmode=require&password=".contains(p.as_str())
            })
    }

    fn encoded(p: &str) -> String {
        percent_encoding::utf8_percent_encode(p, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    proptest! {
        #[test]
        fn no_password_survives_in_any_form(pw in password(), encode in any::<bool>()) {
            let written = if encode { encoded(&pw) } else { pw.clone() };
            for raw in [
                format!("postgres://app:{written}@db.internal:5432/recs"),
                format!("postgres://app:{written}@db.internal:5432/recs?sslmode=require"),
                format!("postgres://db.internal:5432/recs?sslmode=require&password={written}"),
            ] {
                for out in [shown(&raw), super::redact(&shown(&raw))] {
                    prop_assert!(!out.contains(pw.as_str()), "{raw} -> {out}");
                    prop_assert!(!out.contains(written.as_str()), "{raw} -> {out}");
                }
            }
        }
    }
}
