//! Credentials out of anything that may be logged or printed. A URL (any
//! scheme) keeps its user name but loses the password of its user info, and
//! every `key=value` pair whose key names a secret (`password=`,
//! `sslpassword=`, `token=`, ...) loses its value, in a query string or in a
//! libpq-style `host=db password=...` string alike.

/// Marks the value of every pair whose key contains one of these (lower case).
const SECRET_KEYS: [&str; 6] = ["pass", "pwd", "secret", "token", "key", "credential"];

/// The text with every credential it carries replaced by `***`: every URL in
/// it (a Debug dump may hold several) and every secret-named pair.
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
        let key = text[key_start..i - 1].to_ascii_lowercase();
        if !SECRET_KEYS.iter().any(|s| key.contains(s)) {
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
}
