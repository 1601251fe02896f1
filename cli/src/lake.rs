//! Where the lake is, for every command: `--lake` (`FIELDHOUSE_LAKE`), else
//! `lake` in the config file (`<data-dir>/fieldhouse.toml`, or serve's
//! `--config`), else `<data-dir>/lake`. An `s3://` lake gets the S3 store
//! registered with the config file's `[s3]` options (the `AWS_*` variables win).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use fieldhouse_api::ServeConfig;
use fieldhouse_engine::EngineConfig;
use fieldhouse_ingest::storage::{LakeUrl, default_lake, register_s3};

/// The global `--lake` flag, set once by [`crate::cli::run`].
static FLAG: OnceLock<Option<String>> = OnceLock::new();

/// Remember the `--lake` flag (first call wins).
pub(crate) fn set_flag(flag: Option<String>) {
    let _ = FLAG.set(flag);
}

/// The `--lake` flag (or `FIELDHOUSE_LAKE`), when given.
pub(crate) fn flag() -> Option<String> {
    FLAG.get().cloned().flatten()
}

/// The lake for settings `config` (`--lake` wins over its `lake`).
pub(crate) fn from_config(data_dir: &Path, config: &ServeConfig) -> Result<LakeUrl> {
    let location = flag().or_else(|| config.lake.clone()).unwrap_or_else(|| default_lake(data_dir));
    register_s3(&config.s3);
    LakeUrl::parse(&location).with_context(|| format!("the lake at {location}"))
}

/// The lake with the settings of `<data-dir>/fieldhouse.toml` and `FIELDHOUSE_*`.
pub(crate) fn resolve(data_dir: &Path) -> Result<LakeUrl> {
    let config = ServeConfig::load(data_dir, None, |k| std::env::var(k).ok()).context("reading the settings")?;
    from_config(data_dir, &config)
}

/// Engine defaults over the resolved lake; the views and KPIs of the `sql/`
/// directory in `FIELDHOUSE_SQL_DIR` when it is set (as `kpi --sql-dir`
/// reads them), so that `lake update-entities`, `lake rebuild-entities`,
/// `ingest` and `report` compute the entity tables with the SQL the KPIs read.
pub(crate) fn engine_config(data_dir: &Path) -> Result<EngineConfig> {
    let mut config = EngineConfig::new(data_dir);
    config.lake = resolve(data_dir)?.url().clone();
    config.sql_dir = std::env::var_os("FIELDHOUSE_SQL_DIR").filter(|d| !d.is_empty()).map(std::path::PathBuf::from);
    Ok(config)
}

/// An engine with defaults over the resolved lake.
pub(crate) fn engine(data_dir: &Path) -> Result<fieldhouse_engine::Engine> {
    Ok(fieldhouse_engine::Engine::new(engine_config(data_dir)?)?)
}
