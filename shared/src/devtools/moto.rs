//! Helpers for tests that need real servers. Not used by the job itself.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::adapters::storage::s3::S3Store;

/// The moto release the tests need: 5.2.1 answers a multipart upload with the
/// wrong XML root and StartExecution with a 500.
pub const MOTO_VERSION: (u32, u32, u32) = (5, 2, 5);

/// Fails the test at once, saying what to do, when `python3`'s moto is older
/// than [`MOTO_VERSION`] (a test would otherwise fail on a moto bug).
#[allow(clippy::expect_used)]
fn check_version() {
    static CHECKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let have = CHECKED.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import moto; print(moto.__version__)"])
            .output()
            .expect("python3 (make test puts the clone's .venv first on PATH)");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    });
    let parsed: Vec<u32> = have.split('.').filter_map(|p| p.parse().ok()).collect();
    let (a, b, c) = MOTO_VERSION;
    assert!(
        parsed.len() == 3 && (parsed[0], parsed[1], parsed[2]) >= (a, b, c),
        "moto {have:?} on PATH; the tests need moto[server]>={a}.{b}.{c}: run them with `make test`, \
         which installs it in the clone's .venv"
    );
}

/// A moto S3-protocol server on a free loopback port, for one test. Stopped on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    /// Starts `python3 -m moto.server` (PyPI `moto[server]`; `make test`
    /// installs the version the tests need in the clone's `.venv`).
    ///
    /// # Panics
    /// When moto cannot be started, or is older than [`MOTO_VERSION`]: a
    /// test needing it must fail loudly, not skip, and say why.
    #[allow(clippy::expect_used)]
    pub fn start() -> MotoServer {
        check_version();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (pip install 'moto[server]')");
        let mut server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto server exited at start: {status} (pip install 'moto[server]')");
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not listen on {addr} in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The SDK configuration for this server with moto's throwaway credentials.
    pub async fn config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint, "testing", "testing", None).await
    }

    /// An S3 client for this server with moto's throwaway credentials.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.config().await)
    }

    /// A new bucket and a store on it under `root` (`""` for the bucket root).
    ///
    /// # Panics
    /// When the bucket cannot be created.
    #[allow(clippy::expect_used)]
    pub async fn store(&self, bucket: &str, root: &str) -> S3Store {
        let client = self.client().await;
        client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("create bucket");
        S3Store::with_client(client, bucket, root)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one way tests configure an AWS SDK for moto: region `us-east-1`, the
/// endpoint, and the given credentials (a session token for assumed roles).
pub async fn sdk_config(
    endpoint: &str,
    key: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_config::SdkConfig {
    let creds = aws_sdk_s3::config::Credentials::new(key, secret, token.map(str::to_string), None, "moto");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crate::adapters::sdk::https_client())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// An S3 client on a moto configuration (path-style, as moto needs).
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}
