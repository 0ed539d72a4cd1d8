//! Development mode's generated secrets: on the first run, missing secrets are made up and kept in
//! `<data dir>/secrets.toml` (mode 0600), so `jobpilot serve` just works. Production mode never
//! gets here: it refuses to start without its secrets.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Mode};

const FILE_NAME: &str = "secrets.toml";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    jwt_secret: Option<String>,
    encryption_keys: Option<String>,
}

fn random_base64(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    base64::engine::general_purpose::STANDARD.encode(buffer)
}

/// A random password for accounts created from the command line (24 characters, ~143 bits).
pub fn generate_password() -> String {
    random_base64(18).replace(['+', '/'], "-")
}

/// A fresh key-ring entry, as `jobpilot keys generate` prints it.
pub fn generate_encryption_key(id: &str) -> String {
    format!("{id}:{}", random_base64(32))
}

pub fn secrets_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Fills the secrets that are missing from the generated file, creating it when needed.
pub fn ensure_development_secrets(config: &mut Config) -> anyhow::Result<()> {
    if config.mode != Mode::Development
        || (config.jwt_secret.is_some() && config.encryption_keys.is_some())
    {
        return Ok(());
    }
    let path = secrets_path(&config.data_dir);
    let mut stored: Stored = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    let mut changed = false;
    if stored.jwt_secret.is_none() {
        stored.jwt_secret = Some(random_base64(48));
        changed = true;
    }
    if stored.encryption_keys.is_none() {
        stored.encryption_keys = Some(generate_encryption_key("k1"));
        changed = true;
    }
    if changed {
        crate::app::create_private_dir(&config.data_dir)?;
        write_private(&path, &toml::to_string(&stored)?)?;
        tracing::warn!(
            path = %path.display(),
            "development mode: generated missing secrets and stored them in this file; \
             set JOBPILOT_JWT_SECRET and JOBPILOT_ENCRYPTION_KEYS for production"
        );
    }
    if config.jwt_secret.is_none() {
        config.jwt_secret = stored.jwt_secret.map(SecretString::from);
    }
    if config.encryption_keys.is_none() {
        config.encryption_keys = stored.encryption_keys.map(SecretString::from);
    }
    if let Some(keys) = &config.encryption_keys {
        crate::config::parse_key_ring(keys.expose_secret())
            .map_err(|e| anyhow::anyhow!("{}: encryption_keys: {e}", path.display()))?;
    }
    Ok(())
}

/// Writes a file only its owner can read, atomically (a crash leaves the old file or the new).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_config(dir: &Path) -> Config {
        Config::from_sources(
            [("JOBPILOT_DATA_DIR".to_owned(), dir.display().to_string())],
            None,
        )
        .unwrap()
    }

    #[test]
    fn generates_once_keeps_private_and_reuses() {
        let dir = std::env::temp_dir().join(format!("jobpilot-secrets-{}", uuid_like()));
        let mut first = dev_config(&dir);
        ensure_development_secrets(&mut first).unwrap();
        let jwt = first
            .jwt_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        assert!(jwt.len() >= 32);
        crate::config::parse_key_ring(first.encryption_keys.as_ref().unwrap().expose_secret())
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(secrets_path(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut second = dev_config(&dir);
        ensure_development_secrets(&mut second).unwrap();
        assert_eq!(second.jwt_secret.unwrap().expose_secret(), jwt);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn uuid_like() -> String {
        random_base64(9).replace(['/', '+'], "_")
    }
}
