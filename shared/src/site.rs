//! Which page paths are articles, and their external ids. This is the rule of the
//! sites the job serves (WordPress permalinks `/article/<id>/<slug>`), including
//! Google's AMP viewer paths `/v/s/<host>/article/<id>/<slug>`, which the original
//! job lost.

/// An article a path points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleRef<'a> {
    /// The site's own id for the article (the WordPress post id).
    pub external_id: &'a str,
    /// The path without any AMP viewer prefix.
    pub canonical_path: &'a str,
}

/// The article a normalised path points at, or `None` for non-article pages
/// (home page, section fronts, `/article/<non-numeric>/...`).
pub fn article_of(path: &str) -> Option<ArticleRef<'_>> {
    let canonical = strip_amp_viewer(path);
    let rest = canonical.strip_prefix("/article/")?;
    let id = rest.split('/').next()?;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ArticleRef {
        external_id: id,
        canonical_path: canonical,
    })
}

/// `/v/s/<host>/rest` → `/rest`; other paths unchanged.
fn strip_amp_viewer(path: &str) -> &str {
    let Some(after) = path.strip_prefix("/v/s/") else {
        return path;
    };
    match after.find('/') {
        Some(i) => &after[i..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_paths_and_amp_viewer_paths_map_to_one_article() {
        let web = article_of("/article/503532/at-a-rakes-progress").unwrap();
        let amp = article_of("/v/s/washingtoncitypaper.com/article/503532/at-a-rakes-progress").unwrap();
        assert_eq!(web, amp);
        assert_eq!(web.external_id, "503532");
        assert_eq!(amp.canonical_path, "/article/503532/at-a-rakes-progress");
    }

    #[test]
    fn fronts_and_non_numeric_ids_are_not_articles() {
        assert_eq!(article_of("/"), None);
        assert_eq!(article_of("/section/news"), None);
        assert_eq!(article_of("/article/emailnewsletter/d-c-calls-for-pause"), None);
        assert_eq!(article_of("/article/"), None);
        assert_eq!(article_of("/v/s/host.example"), None);
    }
}
