//! The fetch stage as an AWS Lambda function; see `article_rec::stages::fetch`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::lambda::run_stage(article_rec::stage::Stage::Fetch).await
}
