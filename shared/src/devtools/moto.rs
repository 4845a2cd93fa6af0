//! Helpers for tests that need real servers. Not used by the job itself.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::adapters::storage::s3::S3Store;

/// A moto S3-protocol server on a free loopback port, for one test. Stopped on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    /// Starts `python3 -m moto.server` (PyPI `moto[server]`; `.ci/run` installs it).
    ///
    /// # Panics
    /// When moto cannot be started: a test needing it must fail loudly, not skip.
    #[allow(clippy::expect_used)]
    pub fn start() -> MotoServer {
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

    /// An S3 client for this server with throwaway credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "moto");
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A new bucket and a store on it under `root` (`""` for the bucket root).
    ///
    /// # Panics
    /// When the bucket cannot be created.
    #[allow(clippy::expect_used)]
    pub async fn store(&self, bucket: &str, root: &str) -> S3Store {
        let client = self.client();
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
