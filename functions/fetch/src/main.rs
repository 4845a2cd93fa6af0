//! The fetch stage as an AWS Lambda function; see `article_rec::stages::fetch`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::lambda::run_stage("fetch", |input, ctx| async move {
        article_rec::stages::fetch::run(input, &ctx).await
    })
    .await
}
