//! The fetch stage as an AWS Lambda function; see `article_rec::fetch`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::run::lambda::run_stage(article_rec::contract::stage::Stage::Fetch).await
}
