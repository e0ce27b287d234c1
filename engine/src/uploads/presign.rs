//! The S3 side: SigV4 presigned URLs (rusty-s3) and the engine's own HEAD /
//! DELETE requests (reqwest), path-style against the configured endpoint.

use std::sync::OnceLock;
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};

use crate::config::S3Config;

/// Timeout of the engine's own requests to the store.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store could not be used (details are logged, never returned).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The configured endpoint or bucket cannot form a URL.
    #[error("invalid S3 configuration: {0}")]
    Config(String),
    /// The request did not get an answer.
    #[error("S3 request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// The store answered with an unexpected status.
    #[error("S3 answered {0}")]
    Status(u16),
}

/// What a HEAD of an object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    /// `Content-Length`.
    pub size: u64,
    /// `Content-Type` (empty when the store sent none).
    pub content_type: String,
}

/// The configured bucket and its credentials.
pub(crate) struct Store {
    bucket: Bucket,
    credentials: Credentials,
}

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(STORE_TIMEOUT)
            .build()
            .unwrap_or_default()
    })
}

impl Store {
    /// The store of `config`.
    pub fn new(config: &S3Config) -> Result<Self, StoreError> {
        let endpoint = config
            .endpoint
            .parse()
            .map_err(|e: url::ParseError| StoreError::Config(e.to_string()))?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Store {
            bucket,
            credentials: Credentials::new(config.access_key.clone(), config.secret_key.clone()),
        })
    }

    /// A PUT URL that signs `Content-Type` and `Content-Length`: the store
    /// refuses a body of another type or size.
    pub fn presign_put(&self, key: &str, content_type: &str, size: u64, valid: Duration) -> String {
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action
            .headers_mut()
            .insert("content-type", content_type.to_owned());
        action
            .headers_mut()
            .insert("content-length", size.to_string());
        action.sign(valid).to_string()
    }

    /// A GET URL of the object.
    pub fn presign_get(&self, key: &str, valid: Duration) -> String {
        self.bucket
            .get_object(Some(&self.credentials), key)
            .sign(valid)
            .to_string()
    }

    /// HEADs the object: `None` when there is none.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let url = self
            .bucket
            .head_object(Some(&self.credentials), key)
            .sign(Duration::from_secs(60));
        let response = http().head(url).send().await?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            other => return Err(StoreError::Status(other)),
        }
        let headers = response.headers();
        let size = headers
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Some(ObjectInfo { size, content_type }))
    }

    /// Deletes the object (a missing one is no error: S3 answers 204 too).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(Duration::from_secs(60));
        let response = http().delete(url).send().await?;
        match response.status().as_u16() {
            200 | 204 | 404 => Ok(()),
            other => Err(StoreError::Status(other)),
        }
    }
}
