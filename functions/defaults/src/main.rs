//! The defaults stage as an AWS Lambda function; see `article_rec::stages::defaults`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::lambda::run_stage("defaults", |input, ctx| async move {
        article_rec::stages::defaults::run(input, &ctx).await
    })
    .await
}
