//! Uploads (docs/uploads-api.md): presign, the PUT to the store, complete.
//!
//! The PUT goes to the S3-compatible store with exactly the headers the
//! engine signed (content type and length); the presigned URL is a bearer
//! of its own, so neither it nor its query ever reaches a log or an error.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::chat::validate_id;
use super::credentials::BearerToken;
use super::{root_cause, Auth, EngineApi};
use crate::error::{UTDErrorCode, UTDStreamError};

/// An upload as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadWire {
    /// `upl_` + 22 base64url characters.
    pub upload_id: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The name the app gave it.
    #[serde(default)]
    pub file_name: Option<String>,
    /// `pending` or `ready`.
    pub status: String,
    /// The presigned download, on a read of a `ready` upload.
    #[serde(default)]
    pub get: Option<PresignedGet>,
}

/// A presigned GET of an upload's file. Debug hides the URL (its signature
/// lets anyone holding it read the file until it expires).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct PresignedGet {
    /// Where to GET.
    pub url: String,
    /// When the URL stops working (ms since the Unix epoch).
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for PresignedGet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedGet")
            .field("url", &"[redacted]")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// A presigned PUT. Debug hides the URL (its signature is a credential).
#[derive(Clone, Deserialize)]
pub struct PresignedPut {
    /// Where to PUT.
    pub url: String,
    /// The headers the signature covers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for PresignedPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedPut")
            .field("url", &"[redacted]")
            .field("headers", &self.headers)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// `POST /uploads` reply.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedUpload {
    /// The new upload (`pending`).
    pub upload: UploadWire,
    /// How to send its bytes.
    pub put: PresignedPut,
}

#[derive(Serialize)]
struct CreateUpload<'a> {
    content_type: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<&'a str>,
}

impl EngineApi {
    /// `POST /uploads`: a new pending upload and its presigned PUT.
    pub async fn create_upload(
        &self,
        bearer: &BearerToken,
        content_type: &str,
        size: u64,
        file_name: Option<&str>,
    ) -> Result<CreatedUpload, UTDStreamError> {
        let body = CreateUpload {
            content_type,
            size,
            file_name,
        };
        self.call(
            Method::POST,
            self.base(),
            "api/v1/uploads",
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `POST /uploads/{id}/complete`: the engine checks the stored object.
    pub async fn complete_upload(
        &self,
        bearer: &BearerToken,
        upload_id: &str,
    ) -> Result<UploadWire, UTDStreamError> {
        validate_id(upload_id, "upload id")?;
        let path = format!("api/v1/uploads/{upload_id}/complete");
        self.call::<(), _>(Method::POST, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `GET /uploads/{id}`.
    pub async fn upload(
        &self,
        bearer: &BearerToken,
        upload_id: &str,
    ) -> Result<UploadWire, UTDStreamError> {
        validate_id(upload_id, "upload id")?;
        let path = format!("api/v1/uploads/{upload_id}");
        self.call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// PUTs `bytes` to a presigned URL with the signed headers. A refusal
    /// by the store is `forbidden` when the URL no longer works (expired or
    /// bad signature: a new presign helps) and `invalidArgument` otherwise.
    pub async fn put_object(
        &self,
        put: &PresignedPut,
        bytes: Vec<u8>,
    ) -> Result<(), UTDStreamError> {
        let url = url::Url::parse(&put.url)
            .map_err(|_| UTDStreamError::protocol("the engine presigned an unusable URL"))?;
        let mut request = self.http.request(Method::PUT, url).body(bytes);
        for (name, value) in &put.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let reply = request.send().await.map_err(|e| {
            let code = if e.is_timeout() {
                UTDErrorCode::Timeout
            } else {
                UTDErrorCode::Network
            };
            UTDStreamError::new(
                code,
                format!("upload to the store failed: {}", root_cause(&e)),
            )
        })?;
        let status = reply.status();
        if status.is_success() {
            return Ok(());
        }
        let code = match status.as_u16() {
            401 | 403 => UTDErrorCode::Forbidden,
            500..=599 => UTDErrorCode::Server,
            _ => UTDErrorCode::InvalidArgument,
        };
        Err(UTDStreamError::new(
            code,
            format!("the store refused the upload (HTTP {})", status.as_u16()),
        ))
    }
}
