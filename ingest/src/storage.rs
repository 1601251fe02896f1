//! Where the lake lives: a local directory or an S3 bucket (`s3://bucket/prefix`).
//!
//! deltalake knows `file://` and `memory://` by itself; [`register_s3`] adds
//! `s3://` (and `s3a://`) through object_store's own S3 client, without the
//! AWS SDK (deltalake's `s3` feature would pull `deltalake-aws`, `aws-config`
//! and about 30 more crates into the build).
//!
//! - Credentials, region and endpoint: the usual `AWS_*` environment
//!   variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`,
//!   ...; every key object_store's `AmazonS3ConfigKey` knows), over the
//!   options given to [`register_s3`] (the `[s3]` table of the config file).
//!   Instance, container and web-identity credentials work as object_store
//!   implements them.
//! - Concurrent writers: every Delta commit is a `PUT` of
//!   `_delta_log/<version>.json` with `If-None-Match: *` (deltalake's default
//!   log store, object_store's `PutMode::Create`). Of two writers racing for
//!   one version, S3 lets exactly one create it; the other gets
//!   `412 Precondition Failed` and retries on the new version (or, for the
//!   outbox relay and entity maintenance, fails on their Delta `txn`). S3 has
//!   supported conditional writes since August 2024; a store that does not
//!   (check yours) needs `conditional_put` set or a single writer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use deltalake::logstore::{
    ObjectStoreFactory, ObjectStoreRef, StorageConfig, logstore_factories, object_store_factories,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as StorePath;
use url::Url;

use crate::error::{Error, Result};

/// The URL schemes [`register_s3`] adds.
pub const S3_SCHEMES: &[&str] = &["s3", "s3a"];

/// Options given to the first [`register_s3`] of the process.
static S3_OPTIONS: OnceLock<BTreeMap<String, String>> = OnceLock::new();

/// Builds object_store's S3 client for deltalake.
#[derive(Debug, Default)]
struct S3Factory;

impl ObjectStoreFactory for S3Factory {
    fn parse_url_opts(&self, url: &Url, config: &StorageConfig) -> DeltaResult<(ObjectStoreRef, StorePath)> {
        let file = S3_OPTIONS.get().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone()));
        let env = std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).map(|(k, v)| (k.to_ascii_lowercase(), v));
        let given = config.raw.iter().map(|(k, v)| (k.clone(), v.clone()));
        let store = s3_builder(file.chain(env).chain(given), url)?
            .build()
            .map_err(|e| DeltaTableError::Generic(format!("S3 store for {url}: {e}")))?;
        let path = StorePath::from_url_path(url.path())
            .map_err(|e| DeltaTableError::Generic(format!("S3 path of {url}: {e}")))?;
        Ok((Arc::new(store), path))
    }
}

/// An S3 builder from `(key, value)` options (later ones win; keys as
/// object_store names them, with or without the `aws_` prefix; unknown keys
/// are ignored, as `AmazonS3Builder::from_env` ignores them) and the bucket of `url`.
fn s3_builder(options: impl Iterator<Item = (String, String)>, url: &Url) -> DeltaResult<AmazonS3Builder> {
    let mut builder = AmazonS3Builder::new();
    for (key, value) in options {
        let key = key.to_ascii_lowercase();
        let parsed = AmazonS3ConfigKey::from_str(&key).or_else(|_| AmazonS3ConfigKey::from_str(&format!("aws_{key}")));
        if let Ok(k) = parsed {
            builder = builder.with_config(k, value);
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(DeltaTableError::Generic(format!("{url}: an S3 location names its bucket: s3://BUCKET/PREFIX")));
    }
    Ok(builder.with_url(url.as_str()))
}

/// Make `s3://` lakes readable and writable in this process, with `options`
/// (object_store S3 keys such as `endpoint`, `region`, `allow_http`) under
/// the `AWS_*` environment variables. The first call's options hold for the
/// whole process; later calls change nothing.
pub fn register_s3(options: &BTreeMap<String, String>) {
    let _ = S3_OPTIONS.set(options.clone());
    let file = Url::parse("file://").expect("a valid URL");
    let Some(log_factory) = logstore_factories().get(&file).map(|f| f.value().clone()) else { return };
    for scheme in S3_SCHEMES {
        let key = Url::parse(&format!("{scheme}://")).expect("a valid URL");
        object_store_factories().entry(key.clone()).or_insert_with(|| Arc::new(S3Factory));
        // Commits are put-if-absent (If-None-Match), as on a local disk: the default log store.
        logstore_factories().entry(key).or_insert_with(|| log_factory.clone());
    }
}

/// A lake location: a local directory (a path or `file://` URL) or an
/// object-store URL. Always ends with `/`, so `join("events/")` names a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeUrl {
    url: Url,
}

impl LakeUrl {
    /// Parse `location`: a path (made absolute, created when missing), a
    /// `file://` URL, or `s3://bucket/prefix` (after [`register_s3`]).
    pub fn parse(location: &str) -> Result<LakeUrl> {
        let loc_err = |message: String| Error::Location { location: location.to_string(), message };
        let local = |path: PathBuf| -> Result<LakeUrl> {
            std::fs::create_dir_all(&path).map_err(|e| loc_err(e.to_string()))?;
            let path = path.canonicalize().map_err(|e| loc_err(e.to_string()))?;
            let url = Url::from_directory_path(&path).map_err(|()| loc_err("not an absolute path".into()))?;
            Ok(LakeUrl { url })
        };
        match location.split_once("://") {
            None => local(PathBuf::from(location)),
            Some(("file", _)) => {
                let url = Url::parse(location).map_err(|e| loc_err(e.to_string()))?;
                local(url.to_file_path().map_err(|()| loc_err("not a local path".into()))?)
            }
            Some((scheme, _)) if S3_SCHEMES.contains(&scheme) => {
                let mut url = Url::parse(location).map_err(|e| loc_err(e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(loc_err("an S3 location names its bucket: s3://BUCKET/PREFIX".into()));
                }
                if !url.path().ends_with('/') {
                    url.set_path(&format!("{}/", url.path()));
                }
                Ok(LakeUrl { url })
            }
            Some((scheme, _)) => Err(loc_err(format!(
                "`{scheme}://` lakes are not supported (a local directory, file:// or s3://BUCKET/PREFIX)"
            ))),
        }
    }

    /// The lake's URL (ends with `/`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL of table (or folder) `name` under the lake, ending with `/`.
    pub fn table(&self, name: &str) -> Url {
        let name = name.trim_matches('/');
        self.url.join(&format!("{name}/")).expect("a table name joins a lake URL")
    }

    /// The local directory, for a lake on this machine's file system.
    pub fn local_dir(&self) -> Option<PathBuf> {
        local_path(&self.url)
    }
}

impl std::fmt::Display for LakeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.local_dir() {
            Some(p) => write!(f, "{}", p.display()),
            None => write!(f, "{}", self.url),
        }
    }
}

/// The local path of a `file://` URL (`None` for other stores).
pub fn local_path(url: &Url) -> Option<PathBuf> {
    (url.scheme() == "file").then(|| url.to_file_path().ok()).flatten()
}

/// The default lake of a data directory: `<data_dir>/lake`.
pub fn default_lake(data_dir: &Path) -> String {
    data_dir.join("lake").display().to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn locations_parse_to_urls_ending_with_a_slash() {
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeUrl::parse(&dir.path().join("lake").display().to_string()).unwrap();
        assert_eq!(lake.url().scheme(), "file");
        assert!(lake.url().as_str().ends_with("/lake/"));
        assert!(lake.table("events").as_str().ends_with("/lake/events/"));
        assert!(lake.local_dir().unwrap().is_dir(), "a local lake's directory is created");
        let s3 = LakeUrl::parse("s3://bucket/some/prefix").unwrap();
        assert_eq!(s3.url().as_str(), "s3://bucket/some/prefix/");
        assert_eq!(s3.table("entities/orders").as_str(), "s3://bucket/some/prefix/entities/orders/");
        assert_eq!(s3.local_dir(), None);
        assert_eq!(s3.to_string(), "s3://bucket/some/prefix/");
        let e = LakeUrl::parse("s3:///prefix").unwrap_err().to_string();
        assert!(e.contains("s3:///prefix"), "{e}");
        let e = format!("{:?}", LakeUrl::parse("gs://bucket/x").unwrap_err());
        assert!(e.contains("`gs://` lakes are not supported"), "{e}");
    }

    #[test]
    fn s3_options_take_keys_with_or_without_the_aws_prefix() {
        let url = Url::parse("s3://lake/prefix/").unwrap();
        let opts =
            [("endpoint", "http://127.0.0.1:9"), ("AWS_REGION", "eu-west-3"), ("allow_http", "true"), ("x", "y")];
        let b = s3_builder(opts.iter().map(|(k, v)| (k.to_string(), v.to_string())), &url).unwrap();
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Endpoint).as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(), Some("eu-west-3"));
        let store = b.build().expect("an HTTP endpoint is allowed with allow_http");
        assert_eq!(store.to_string(), "AmazonS3(lake)", "the bucket comes from the URL");
    }
}
