//! The train stage as an AWS Lambda function; see `article_rec::train`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::run::lambda::run_stage(article_rec::contract::stage::Stage::Train).await
}
