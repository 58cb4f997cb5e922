//! Offline logs: what Argo archived in the artifact store (`archiveLogs`, keys
//! `<workflow>/<pod>/main.log`), read through an S3-compatible endpoint (MinIO in a
//! cube-studio install) with requests signed by `rusty-s3` (AWS signature v4) and sent
//! with `reqwest`. The original reads them with the MinIO client and hard-coded
//! credentials; here endpoint, bucket, region and keys are settings (`S3_*`).

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::config::ArchiveConfig;

/// Objects larger than this are cut (a log page is not a download).
pub const MAX_OBJECT_BYTES: usize = 16 * 1024 * 1024;

/// Why an archived object cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("object {0} is not in the archive")]
    NotFound(String),
    #[error("archive endpoint unreachable: {0}")]
    Unreachable(String),
    #[error("archive refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("archive settings: {0}")]
    Settings(String),
}

/// The archive of a configured endpoint.
pub struct Archive {
    bucket: Bucket,
    credentials: Option<Credentials>,
    http: reqwest::Client,
}

impl Archive {
    pub fn new(config: &ArchiveConfig) -> Result<Self, ArchiveError> {
        let endpoint = url::Url::parse(&config.endpoint).map_err(|e| {
            ArchiveError::Settings(format!("S3_ENDPOINT {:?}: {e}", config.endpoint))
        })?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| ArchiveError::Settings(format!("S3_ENDPOINT {:?}: {e}", config.endpoint)))?;
        let credentials = match (&config.access_key, &config.secret_key) {
            (Some(k), Some(s)) => Some(Credentials::new(k.clone(), s.clone())),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| ArchiveError::Settings(e.to_string()))?;
        Ok(Archive {
            bucket,
            credentials,
            http,
        })
    }

    /// The object at `key`, cut at [`MAX_OBJECT_BYTES`].
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ArchiveError> {
        let url = self
            .bucket
            .get_object(self.credentials.as_ref(), key)
            .sign(Duration::from_secs(300));
        let mut res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| ArchiveError::Unreachable(e.to_string()))?;
        let status = res.status().as_u16();
        if status == 404 {
            return Err(ArchiveError::NotFound(key.to_string()));
        }
        if !res.status().is_success() {
            let body = res.text().await.unwrap_or_default();
            let message = xml_field(&body, "Message")
                .or_else(|| xml_field(&body, "Code"))
                .unwrap_or_else(|| body.chars().take(200).collect());
            return Err(ArchiveError::Refused { status, message });
        }
        let mut out = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| ArchiveError::Unreachable(e.to_string()))?
        {
            let room = MAX_OBJECT_BYTES.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= MAX_OBJECT_BYTES {
                break;
            }
        }
        Ok(out)
    }
}

/// The text of `<name>…</name>` in an S3 error document.
fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].to_string())
}

/// The key of an archived file of a workflow's pod: `<workflow>/<pod>/<file>`; `None`
/// when a part is empty or could climb out of its folder.
pub fn log_key(workflow: &str, pod: &str, file: &str) -> Option<String> {
    let ok = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\']);
    (ok(workflow) && ok(pod) && ok(file)).then(|| format!("{workflow}/{pod}/{file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_their_folder() {
        assert_eq!(
            log_key("wf", "wf-1", "main.log").as_deref(),
            Some("wf/wf-1/main.log")
        );
        assert_eq!(log_key("wf", "..", "main.log"), None);
        assert_eq!(log_key("wf", "p", "a/b"), None);
        assert_eq!(log_key("", "p", "main.log"), None);
    }

    #[test]
    fn s3_errors_are_read() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>";
        assert_eq!(
            xml_field(body, "Message").as_deref(),
            Some("Access Denied.")
        );
        assert_eq!(xml_field("plain", "Message"), None);
    }
}
