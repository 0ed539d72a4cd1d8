//! File storage for uploads (resume files), on local disk under the data directory. Callers
//! encrypt before they write: what lies on disk is ciphertext. Writes are atomic (a temporary
//! file renamed into place after fsync), so a crash leaves the old file or the new one.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LocalFiles {
    root: PathBuf,
}

impl LocalFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Keys are made by jobpilot (`resumes/<user>/<id>`), never by users; anything else is
    /// refused rather than resolved, so no key can point outside the root.
    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let valid = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a valid file key",
            ));
        }
        Ok(self.root.join(key))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> io::Result<()> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(io::Error::other)?
    }

    pub async fn get(&self, key: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path(key)?).await
    }

    /// The first `len` bytes of a file (all of it when shorter): enough to read a sealed file's
    /// key id without reading the file.
    pub async fn head(&self, key: &str, len: usize) -> io::Result<Vec<u8>> {
        use tokio::io::AsyncReadExt as _;
        let file = tokio::fs::File::open(self.path(key)?).await?;
        let mut head = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut head).await?;
        Ok(head)
    }

    /// Removes a file; one already gone is not an error (deletes are retried).
    pub async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
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

    #[tokio::test]
    async fn files_round_trip_and_keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let files = LocalFiles::new(dir.path());
        files
            .put("resumes/u1/r1", b"sealed".to_vec())
            .await
            .unwrap();
        assert_eq!(files.get("resumes/u1/r1").await.unwrap(), b"sealed");
        files.put("resumes/u1/r1", b"again".to_vec()).await.unwrap();
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
            let err = files.put(bad, Vec::new()).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
