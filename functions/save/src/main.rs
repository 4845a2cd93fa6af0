//! The save stage as an AWS Lambda function; see `article_rec::save`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::run::lambda::run_stage(article_rec::contract::stage::Stage::Save).await
}
