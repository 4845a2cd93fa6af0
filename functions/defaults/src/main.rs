//! The defaults stage as an AWS Lambda function; see `article_rec_core::stages::defaults`.

#[tokio::main]
async fn main() -> Result<(), article_rec_core::LambdaError> {
    article_rec_core::run::lambda::run_stage(article_rec_core::contract::stage::Stage::Defaults).await
}
