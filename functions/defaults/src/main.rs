//! The defaults stage as an AWS Lambda function; see `article_rec::stages::defaults`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::lambda::run_stage(article_rec::stage::Stage::Defaults).await
}
