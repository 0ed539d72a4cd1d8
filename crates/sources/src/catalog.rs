//! Which boards a deployment follows: one TOML document with a table per source, e.g.
//!
//! ```toml
//! [greenhouse]
//! boards = ["acme", "northwind"]
//!
//! [hh]
//! user_agent = "JobSearch/1.0 (ops@example.org)"
//! queries = [{ text = "Rust", areas = ["113"] }]
//! ```
//!
//! Every table is optional; a source without one is not followed.

use std::sync::Arc;

use serde::Deserialize;

use crate::{
    AdzunaConfig, AdzunaSource, ArbeitnowConfig, ArbeitnowSource, GreenhouseConfig,
    GreenhouseSource, HhConfig, HhSource, LeverConfig, LeverSource, RemoteOkConfig, RemoteOkSource,
    Source, SourceError,
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    pub hh: Option<HhConfig>,
    pub adzuna: Option<AdzunaConfig>,
    pub remoteok: Option<RemoteOkConfig>,
    pub greenhouse: Option<GreenhouseConfig>,
    pub lever: Option<LeverConfig>,
    pub arbeitnow: Option<ArbeitnowConfig>,
}

/// The configured sources, ready to sync.
#[derive(Clone, Default)]
pub struct Catalog {
    sources: Vec<Arc<dyn Source>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl SourcesConfig {
    /// Reads the TOML document; the error names the offending key.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let value: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        Self::from_value(value)
    }

    /// Reads an already parsed document (so secrets from the environment can be added first).
    pub fn from_value(value: toml::Value) -> Result<Self, String> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })
    }

    /// The names of the configured sources, in the order they sync.
    pub fn names(&self) -> Vec<String> {
        [
            ("hh", self.hh.is_some()),
            ("adzuna", self.adzuna.is_some()),
            ("remoteok", self.remoteok.is_some()),
            ("greenhouse", self.greenhouse.is_some()),
            ("lever", self.lever.is_some()),
            ("arbeitnow", self.arbeitnow.is_some()),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_owned())
        .collect()
    }

    /// Builds each configured connector.
    pub fn build(self) -> Result<Catalog, SourceError> {
        let mut sources: Vec<Arc<dyn Source>> = Vec::new();
        if let Some(config) = self.hh {
            sources.push(Arc::new(HhSource::new(config)?));
        }
        if let Some(config) = self.adzuna {
            sources.push(Arc::new(AdzunaSource::new(config)?));
        }
        if let Some(config) = self.remoteok {
            sources.push(Arc::new(RemoteOkSource::new(config)?));
        }
        if let Some(config) = self.greenhouse {
            sources.push(Arc::new(GreenhouseSource::new(config)?));
        }
        if let Some(config) = self.lever {
            sources.push(Arc::new(LeverSource::new(config)?));
        }
        if let Some(config) = self.arbeitnow {
            sources.push(Arc::new(ArbeitnowSource::new(config)?));
        }
        Ok(Catalog { sources })
    }
}

impl Catalog {
    pub fn names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name().to_owned()).collect()
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Source>> {
        self.sources.iter().find(|s| s.name() == name).cloned()
    }

    pub fn all(&self) -> &[Arc<dyn Source>] {
        &self.sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_names_the_sources_it_follows() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = SourcesConfig::from_toml(
            r#"
            [greenhouse]
            boards = ["acme"]
            [lever]
            companies = [{ site = "northwind", name = "Northwind Robotics" }]
            [remoteok]
            "#,
        )
        .unwrap();
        let catalog = config.build().unwrap();
        assert_eq!(catalog.names(), ["remoteok", "greenhouse", "lever"]);
        assert!(catalog.get("lever").is_some() && catalog.get("hh").is_none());
    }

    #[test]
    fn mistakes_name_their_key() {
        let error = SourcesConfig::from_toml("[greenhouse]\nbaords = [\"acme\"]\n").unwrap_err();
        assert!(error.contains("baords"), "{error}");
        let error = SourcesConfig::from_toml("[hh]\nqueries = []\n").unwrap_err();
        assert!(error.contains("user_agent"), "{error}");
        assert!(SourcesConfig::from_toml("[bogus]\n").is_err());
    }
}
