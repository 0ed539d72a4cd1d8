//! File storage for uploads (resume files): the local disk under the data directory by
//! default, or an S3-compatible bucket. Callers encrypt before they write: what is stored is
//! ciphertext either way. Writes are atomic (on disk a temporary file renamed into place after
//! fsync; on S3 a single PUT), so a crash leaves the old object or the new one.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::{ObjectStoreExt as _, aws::AmazonS3, path::Path as ObjectPath};

/// Where files are kept. Cheap to clone.
#[derive(Clone)]
pub struct Files {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local(PathBuf),
    S3 {
        store: Arc<AmazonS3>,
        bucket: String,
        prefix: String,
    },
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, R2, …).
#[derive(Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// For services other than AWS (`https://minio.internal:9000`); `None`: AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Both or neither; neither: the usual AWS sources (environment, instance metadata).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Prepended to every key (`jobpilot/`), so one bucket can serve several deployments.
    pub prefix: String,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Keys are made by jobpilot (`resumes/<user>/<id>`), never by users; anything else is
/// refused rather than resolved, so no key can point outside the root or the prefix.
fn check_key(key: &str) -> io::Result<()> {
    let valid = !key.is_empty()
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a valid file key",
        ))
    }
}

fn object_error(error: object_store::Error) -> io::Error {
    // Kinds survive (NotFound above all); the message never holds credentials.
    io::Error::from(error)
}

impl Files {
    /// Files under a folder of the local disk.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Local(root.into()),
        }
    }

    /// Files in an S3-compatible bucket. Nothing is contacted here: a wrong setting shows at
    /// the first read or write (and in the readiness of `jobpilot keys status`).
    pub fn s3(settings: &S3Settings) -> Result<Self, String> {
        // HTTPS needs a TLS provider; the process's choice stands when it made one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..object_store::RetryConfig::default()
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_timeout(Duration::from_secs(60))
                    .with_connect_timeout(Duration::from_secs(5)),
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        match (&settings.access_key_id, &settings.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            (None, None) => {}
            _ => return Err("the S3 access key id and secret key go together".to_owned()),
        }
        let prefix = settings.prefix.trim_matches('/');
        if !prefix.is_empty() {
            check_key(prefix).map_err(|_| {
                "the S3 prefix may hold letters, digits, '-', '_' and '/' only".to_owned()
            })?;
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            backend: Backend::S3 {
                store: Arc::new(store),
                bucket: settings.bucket.clone(),
                prefix: prefix.to_owned(),
            },
        })
    }

    /// Where the files are, for logs and `config check`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(root) => format!("local disk at {}", root.display()),
            Backend::S3 { bucket, prefix, .. } if prefix.is_empty() => format!("s3://{bucket}"),
            Backend::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    fn object(prefix: &str, key: &str) -> ObjectPath {
        if prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{prefix}/{key}"))
        }
    }

    /// Stores sealed bytes (nothing else can be stored).
    pub async fn put(&self, key: &str, sealed: domain::Sealed) -> io::Result<()> {
        check_key(key)?;
        let bytes = sealed.into_bytes();
        match &self.backend {
            Backend::Local(root) => {
                let path = root.join(key);
                tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                    .await
                    .map_err(io::Error::other)?
            }
            Backend::S3 { store, prefix, .. } => store
                .put(&Self::object(prefix, key), bytes.into())
                .await
                .map(drop)
                .map_err(object_error),
        }
    }

    pub async fn get(&self, key: &str) -> io::Result<Vec<u8>> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(root) => tokio::fs::read(root.join(key)).await,
            Backend::S3 { store, prefix, .. } => {
                let object = store
                    .get(&Self::object(prefix, key))
                    .await
                    .map_err(object_error)?;
                Ok(object.bytes().await.map_err(object_error)?.to_vec())
            }
        }
    }

    /// The first `len` bytes of a file (all of it when shorter): enough to read a sealed file's
    /// key id without reading the file.
    pub async fn head(&self, key: &str, len: usize) -> io::Result<Vec<u8>> {
        check_key(key)?;
        match &self.backend {
            Backend::Local(root) => {
                use tokio::io::AsyncReadExt as _;
                let file = tokio::fs::File::open(root.join(key)).await?;
                let mut head = Vec::with_capacity(len);
                file.take(len as u64).read_to_end(&mut head).await?;
                Ok(head)
            }
            Backend::S3 { store, prefix, .. } => store
                .get_range(&Self::object(prefix, key), 0..len as u64)
                .await
                .map(|bytes| bytes.to_vec())
                .map_err(object_error),
        }
    }

    /// Removes a file; one already gone is not an error (deletes are retried).
    pub async fn delete(&self, key: &str) -> io::Result<()> {
        check_key(key)?;
        let result = match &self.backend {
            Backend::Local(root) => tokio::fs::remove_file(root.join(key)).await,
            Backend::S3 { store, prefix, .. } => store
                .delete(&Self::object(prefix, key))
                .await
                .map_err(object_error),
        };
        match result {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent folder"))?;
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands in for a key ring's output: the storage never looks inside.
    fn sealed(bytes: &[u8]) -> domain::Sealed {
        domain::Sealed::from_stored(bytes.to_vec())
    }

    #[tokio::test]
    async fn files_round_trip_and_keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::local(dir.path());
        files.put("resumes/u1/r1", sealed(b"sealed")).await.unwrap();
        assert_eq!(files.get("resumes/u1/r1").await.unwrap(), b"sealed");
        files.put("resumes/u1/r1", sealed(b"again")).await.unwrap();
        assert_eq!(files.get("resumes/u1/r1").await.unwrap(), b"again");
        files.delete("resumes/u1/r1").await.unwrap();
        files.delete("resumes/u1/r1").await.unwrap();
        assert!(files.get("resumes/u1/r1").await.is_err());
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "",
            "a/b.c",
            "a\\b",
        ] {
            let err = files.put(bad, sealed(b"")).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
