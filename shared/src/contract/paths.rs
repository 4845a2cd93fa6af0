//! Page paths as every part of the job compares them: URL-decoded, without
//! query, fragment or trailing slash.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// URL-decodes a page path, drops any query or fragment and the trailing slash.
/// The root stays `/`; an empty path becomes `/`. Borrows when nothing changes
/// but the ends (the usual case).
pub fn normalise_path(path: &str) -> Cow<'_, str> {
    let end = memchr::memchr2(b'?', b'#', path.as_bytes()).unwrap_or(path.len());
    let path = &path[..end];
    let decoded = if memchr::memchr(b'%', path.as_bytes()).is_some() {
        percent_decode_str(path).decode_utf8_lossy()
    } else {
        Cow::Borrowed(path)
    };
    let trimmed_len = decoded.trim_end_matches('/').len();
    if trimmed_len == 0 {
        return Cow::Borrowed("/");
    }
    if !decoded.starts_with('/') {
        return Cow::Owned(format!("/{}", &decoded[..trimmed_len]));
    }
    match decoded {
        Cow::Borrowed(d) => Cow::Borrowed(&d[..trimmed_len]),
        Cow::Owned(mut d) => {
            d.truncate(trimmed_len);
            Cow::Owned(d)
        }
    }
}
