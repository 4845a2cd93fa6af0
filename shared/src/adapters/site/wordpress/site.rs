//! WordPress as a site catalogue: one article, the articles of a window, by id.

use super::*;

#[async_trait]
impl Site for WordPress {
    fn source(&self) -> &str {
        "WordPress"
    }

    async fn metadata(&self, articles: &[ArticleKey]) -> Vec<Lookup> {
        let mut out: Vec<Option<Lookup>> = vec![None; articles.len()];
        let by_id: Vec<usize> = (0..articles.len()).filter(|&i| numeric(&articles[i])).collect();
        let pages: Vec<Vec<usize>> = by_id.chunks(IDS_PER_LIST).map(<[usize]>::to_vec).collect();
        let listed = stream::iter(pages)
            .map(|chunk: Vec<usize>| async move {
                let ids: Vec<&str> = chunk.iter().map(|&i| articles[i].external_id.as_str()).collect();
                let result = self.posts_by_ids(&ids).await;
                (chunk, result)
            })
            .buffer_unordered(self.opts.concurrency)
            .collect::<Vec<_>>()
            .await;
        let mut one_by_one = Vec::new();
        for (chunk, result) in listed {
            match result {
                Ok(mut found) => {
                    for &i in &chunk {
                        out[i] = Some(match found.remove(&articles[i].external_id) {
                            Some(entry) => Lookup::Found(entry),
                            None => Lookup::Unknown {
                                exclude_reason: Some("no published WordPress post has this id".into()),
                            },
                        });
                    }
                }
                Err(PageFailure { why, refused: true }) => {
                    for &i in &chunk {
                        out[i] = Some(Lookup::Failed(why.clone()));
                    }
                }
                Err(PageFailure { why, .. }) => {
                    warn!(error = %why, posts = chunk.len(), "a page of posts failed; looking them up one by one");
                    one_by_one.extend_from_slice(&chunk);
                }
            }
        }
        // by slug: articles whose id is not a post id
        one_by_one.extend((0..articles.len()).filter(|&i| !numeric(&articles[i])));
        let single = stream::iter(one_by_one)
            .map(|i: usize| async move {
                let a = &articles[i];
                let lookup = if numeric(a) {
                    self.post_by_id(&a.external_id).await
                } else {
                    let slug = a
                        .path
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or_default();
                    self.post_by_slug(slug).await
                };
                (i, lookup)
            })
            .buffer_unordered(self.opts.concurrency)
            .collect::<Vec<_>>()
            .await;
        for (i, lookup) in single {
            out[i] = Some(lookup);
        }
        out.into_iter()
            .map(|l| l.unwrap_or_else(|| Lookup::Failed("not looked up".into())))
            .collect()
    }

    async fn published(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> std::result::Result<Vec<CatalogEntry>, String> {
        self.posts_published(since, until).await
    }
}
