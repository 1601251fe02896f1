//! Entity tables: the views of `sql/views/` kept as Delta tables of the lake
//! (`<lake>/entities/<view>`), brought up to date after every commit to
//! `events` by recomputing only the rows of the keys that commit touched.
//!
//! **Which views.** A view file with a line `-- entity: key=COLUMN
//! [follows=VIEW.COLUMN,...]` is an entity: its rows are a function of the
//! events that carry its key (and of the entity views it joins). `key` is a
//! column of both the view and `events`; every row of the view belongs to the
//! events of its key. `follows=VIEW.COLUMN` says that the view joins entity
//! `VIEW` through its own column `COLUMN`: when rows of `VIEW` change, the
//! rows of this view whose `COLUMN` names them are recomputed too. A view
//! without the line (`orders`, whose SLA states move with the clock) is
//! computed at read time over the entity tables, as before. Two rules,
//! checked on the SQL as DataFusion parses it when the engine loads the views:
//! an entity view does not call `fh_now()` (its rows would move with the
//! clock, and a table is only recomputed when events arrive), and every other
//! view it reads is an entity view it `follows` (else a change of that view's
//! rows would not recompute its own). Reading `events` is always allowed.
//!
//! **Maintenance** ([`Engine::maintain_entities`]): the manifest says which
//! `events` version the tables reflect (`from`). The files added to `events`
//! since `from` hold the new events; their key columns give, per entity, the
//! touched keys (events of the types its SQL names), widened by `follows`
//! (rows of this entity that join a touched row of another). For each entity
//! in file order, the view's own SQL runs over `events` restricted to those
//! keys (and the other entity tables), and the result replaces the rows of
//! those keys in one Delta commit (`replaceWhere`), carrying `txn(app id
//! fieldhouse-entities, version = events version)`. A table the manifest does
//! not know, or a gap too large to be worth it, is rebuilt whole.
//!
//! **The manifest** (`<lake>/entities/_manifest/`, see [`Manifest`]): after
//! all tables are written, one object `{"events_version": E, "tables": {name:
//! version}, "sql": {name: digest}}` listing every table. A reader takes the
//! tables at the versions of the state for the events version it reads, so the
//! entity tables it sees are consistent with each other and with `events` at
//! that version. It is made of whole objects, never appended to, so it works
//! the same on a local disk and on S3. (Lakes written before it kept a
//! `_versions.jsonl` file: their entity tables are rebuilt once.)
//! A crash between table commits leaves the manifest at the old state: readers
//! keep reading the old versions, and the next pass recomputes the touched
//! keys of the whole gap again (recomputing a key from the events is
//! idempotent: rows are replaced, never added twice).
//!
//! **As-of.** An events version with a manifest state is read from the entity
//! tables at the versions that state gives; any other version (before the
//! tables existed, between two passes that covered several commits) is
//! computed from the raw events as before: same answers, the old speed.

mod batches;
mod defs;
mod maintain;
mod manifest;

use std::path::PathBuf;

use deltalake::{DeltaTable, DeltaTableBuilder};

use crate::session::{AsOf, Engine};
use crate::{Error, Result};

pub(crate) use defs::{EntityDef, entity_defs};
pub use maintain::{EntityReport, EntityTableReport, MaintainOptions};
pub use manifest::MANIFEST_DIR;
pub(crate) use manifest::{Manifest, TableState};

/// Directory of the entity tables under the lake.
pub const ENTITIES_DIR: &str = "entities";
/// The Delta `txn` application id of entity maintenance (version = the events version reflected).
pub const ENTITY_APP_ID: &str = "fieldhouse-entities";
/// A pass over more new events than this rebuilds every table instead of
/// recomputing keys (a bulk load touches most keys anyway); so does one over
/// more than a fiftieth of the events, at least [`REBUILD_FLOOR_EVENTS`]
/// (see [`rebuild_above`]).
pub const REBUILD_ABOVE_EVENTS: usize = 250_000;
/// New events a pass recomputes by key whatever the lake's size.
pub const REBUILD_FLOOR_EVENTS: usize = 10_000;

/// Above how many new events a pass rebuilds the tables, for a lake of
/// `total` events: a fiftieth of them, between [`REBUILD_FLOOR_EVENTS`] and
/// [`REBUILD_ABOVE_EVENTS`]. Recomputing keys costs about 0.5 ms a new event
/// on the demo lake of 1.3 M events (5,000 events: 3.8 s; 130,000: 65 s,
/// under `bench/ingest/entities.sh`) where rebuilding every table takes
/// 14-20 s: with the fixed 250,000 alone, a pass over 130,000 events of a
/// flood took 65 s and ingest beside it fell to 0.56 of events-only.
pub fn rebuild_above(total: usize) -> usize {
    (total / 50).clamp(REBUILD_FLOOR_EVENTS, REBUILD_ABOVE_EVENTS)
}
/// A pass that touches more keys of a table than this rebuilds the table.
pub const REBUILD_ABOVE_KEYS: usize = 50_000;

/// The local path of a `file://` URL (`None` for other stores).
fn url_path(url: &str) -> Option<PathBuf> {
    url::Url::parse(url).ok().filter(|u| u.scheme() == "file").and_then(|u| u.to_file_path().ok())
}

impl Engine {
    /// The location of entity table `name`.
    pub fn entity_url(&self, name: &str) -> url::Url {
        self.table_url(&format!("{ENTITIES_DIR}/{name}"))
    }

    /// The names of the entity tables, in maintenance order.
    pub fn entity_names(&self) -> impl Iterator<Item = &str> {
        self.entities.iter().map(|d| d.name.as_str())
    }

    /// Entity table `name`, at `version` or its latest.
    pub(crate) async fn load_entity(&self, name: &str, version: Option<u64>) -> Result<DeltaTable> {
        if let Some(v) = version {
            return self.load_table(&format!("{ENTITIES_DIR}/{name}"), AsOf::Version(v)).await;
        }
        // The latest version is what a pass writes on: a local directory is made when missing.
        let lake = |source| Error::Lake { table: format!("{ENTITIES_DIR}/{name}"), source };
        let url = self.entity_url(name);
        if let Some(path) = url_path(url.as_str()) {
            std::fs::create_dir_all(&path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        }
        let builder = DeltaTableBuilder::from_url(url).map_err(lake)?;
        let mut table = builder.build().map_err(lake)?;
        // Probe first: loading a table that is not there makes the Delta kernel log an error.
        if table.verify_deltatable_existence().await.map_err(lake)? {
            table.load().await.map_err(lake)?;
        }
        Ok(table)
    }
}
