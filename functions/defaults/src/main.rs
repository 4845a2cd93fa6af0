//! The defaults stage as an AWS Lambda function; see `article_rec::defaults`.

#[tokio::main]
async fn main() -> Result<(), article_rec::LambdaError> {
    article_rec::run::lambda::run_stage(article_rec::contract::stage::Stage::Defaults).await
}
