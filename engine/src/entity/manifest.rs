//! The manifest of the entity tables: which Delta version of each table (and
//! which SQL digest) goes with which `events` version.

#[cfg(test)]
use std::collections::BTreeSet;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use deltalake::logstore::object_store::{self, ObjectStore, ObjectStoreExt, path::Path as StorePath};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{ENTITIES_DIR, EntityDef};
use crate::session::Engine;
use crate::{Error, Result};

/// Every entity table's state at one events version.
pub(crate) type TableVersions = Arc<TableState>;

/// One manifest object: every entity table's state at one events version.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestEntry {
    events_version: u64,
    /// Each table's Delta version.
    tables: BTreeMap<String, u64>,
    /// The digest of the SQL each table was computed with.
    #[serde(default)]
    sql: BTreeMap<String, String>,
}

/// What the entity tables are at one events version: each table's Delta
/// version and the digest of the SQL it was computed with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TableState {
    pub(crate) tables: BTreeMap<String, u64>,
    pub(crate) sql: BTreeMap<String, String>,
}

impl TableState {
    /// Whether `def`'s table is listed and was computed with its SQL.
    pub(super) fn current(&self, def: &EntityDef) -> bool {
        self.tables.contains_key(&def.name) && self.sql.get(&def.name) == Some(&def.digest)
    }
}

/// The manifest: one object per state, `<lake>/entities/_manifest/<events
/// version, 20 digits>-<written at, ns>.json`, put whole (a local rename or
/// one S3 PUT: a reader never sees half of one). Keys sort by events version
/// then time: the newest object of a version is its state, the last key
/// the latest state. Listing starts after the last key seen (S3
/// `start-after`), and objects are read when a state is asked for.
///
/// After each object, the writer overwrites the pointer [`HEAD_KEY`] (the
/// key it just wrote). A reader lists only when the pointer's metadata
/// (e-tag, time, size) changed since it last listed: a latest read costs one
/// `head` (a `stat` on a local disk), however many objects the folder holds.
/// A writer that stops between the object and the pointer leaves the object
/// unseen by running readers until the next pointer write (the next pass);
/// a reader that starts lists everything once.
///
/// [`Engine::prune_manifest`] deletes superseded objects (an older object of
/// the same events version) and the states of all but the newest
/// [`KEEP_STATES`] events versions; as-of reads of older versions are
/// computed from the raw events (same answers, the old speed).
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    /// The pointer's metadata when the folder was last listed.
    head: Option<(Option<String>, i64, u64)>,
    /// The last key listed.
    listed: Option<StorePath>,
    /// The newest key of each events version.
    keys: BTreeMap<u64, StorePath>,
    /// States read so far, by key.
    read: HashMap<StorePath, TableVersions>,
}

/// The folder of the manifest objects under [`ENTITIES_DIR`].
pub const MANIFEST_DIR: &str = "_manifest";

/// The pointer object beside [`MANIFEST_DIR`] (outside it, so a listing never returns it).
pub(crate) const HEAD_KEY: &str = "_manifest_head";

/// How many events versions keep their manifest state when it is pruned.
pub(crate) const KEEP_STATES: usize = 1000;

/// The events version of manifest key `path` (`None`: not a manifest object).
fn manifest_version(path: &StorePath) -> Option<u64> {
    let name = path.filename()?.strip_suffix(".json")?;
    let (version, at) = name.split_once('-')?;
    at.parse::<u128>().ok()?;
    version.parse().ok()
}

impl Manifest {
    /// List the objects written since the last call, when the pointer moved.
    async fn refresh(&mut self, store: &dyn ObjectStore) -> object_store::Result<()> {
        let head = match store.head(&StorePath::from(HEAD_KEY)).await {
            Ok(m) => Some((m.e_tag, m.last_modified.timestamp_nanos_opt().unwrap_or(0), m.size)),
            // A lake written before the pointer, or none written yet: list every time.
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if head.is_some() && head == self.head {
            return Ok(());
        }
        self.list_new(store).await?;
        self.head = head;
        Ok(())
    }

    /// List the objects written after the last key seen.
    async fn list_new(&mut self, store: &dyn ObjectStore) -> object_store::Result<()> {
        let prefix = StorePath::from(MANIFEST_DIR);
        let listing = match &self.listed {
            Some(after) => store.list_with_offset(Some(&prefix), after),
            None => store.list(Some(&prefix)),
        };
        let mut found: Vec<StorePath> = listing.map_ok(|m| m.location).try_collect().await?;
        found.sort();
        for key in found {
            if self.listed.as_ref().is_some_and(|l| &key <= l) {
                continue;
            }
            // Other files (none are written there) neither count nor move the listing on.
            let Some(v) = manifest_version(&key) else { continue };
            if self.keys.get(&v).is_none_or(|k| k < &key) {
                self.keys.insert(v, key.clone());
            }
            self.listed = Some(key);
        }
        Ok(())
    }

    /// The state of events version `v` (read once, then kept).
    async fn state(&mut self, store: &dyn ObjectStore, v: u64) -> object_store::Result<Option<TableVersions>> {
        let Some(key) = self.keys.get(&v).cloned() else { return Ok(None) };
        if let Some(t) = self.read.get(&key) {
            return Ok(Some(t.clone()));
        }
        let bytes = match store.get(&key).await {
            Ok(got) => got.bytes().await?,
            // Pruned since it was listed (never the newest object of a version that is kept).
            Err(object_store::Error::NotFound { .. }) => {
                self.keys.remove(&v);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let entry: ManifestEntry = match serde_json::from_slice(&bytes) {
            Ok(entry) => entry,
            // A torn object (a crash of the machine while it was written: local writes are not
            // synced) or a foreign file: read as absent, so readers take the raw events or an
            // older state and the next pass writes this version's state again.
            Err(e) => {
                tracing::warn!(object = %key, error = %e, "unreadable entity manifest object: ignored");
                self.keys.remove(&v);
                return Ok(None);
            }
        };
        let state = Arc::new(TableState { tables: entry.tables, sql: entry.sql });
        self.read.insert(key, state.clone());
        Ok(Some(state))
    }

    /// The newest readable state (an unreadable or pruned object drops out of `keys`, so this ends).
    async fn latest(&mut self, store: &dyn ObjectStore) -> object_store::Result<Option<(u64, TableVersions)>> {
        while let Some(v) = self.keys.keys().next_back().copied() {
            if let Some(t) = self.state(store, v).await? {
                return Ok(Some((v, t)));
            }
        }
        Ok(None)
    }
}

/// Write the state of `events_version` as a new manifest object.
async fn put_manifest(store: &dyn ObjectStore, events_version: u64, state: &TableState) -> object_store::Result<()> {
    let entry = ManifestEntry { events_version, tables: state.tables.clone(), sql: state.sql.clone() };
    let text = serde_json::to_vec(&entry)
        .map_err(|e| object_store::Error::Generic { store: "manifest", source: Box::new(e) })?;
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let key = StorePath::from(format!("{MANIFEST_DIR}/{events_version:020}-{at:020}.json"));
    let opts = object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() };
    store.put_opts(&key, text.into(), opts).await?;
    store.put(&StorePath::from(HEAD_KEY), key.to_string().into_bytes().into()).await?;
    Ok(())
}

/// The manifest objects to delete: every object but the newest of its
/// events version, and every object of all but the newest `keep` versions.
fn prunable(mut keys: Vec<StorePath>, keep: usize) -> Vec<StorePath> {
    keys.retain(|k| manifest_version(k).is_some());
    keys.sort();
    let mut newest: BTreeMap<u64, StorePath> = BTreeMap::new();
    let mut out = Vec::new();
    for k in keys {
        let Some(v) = manifest_version(&k) else { continue };
        if let Some(old) = newest.insert(v, k) {
            out.push(old);
        }
    }
    let old_versions = newest.len().saturating_sub(keep.max(1));
    out.extend(newest.into_values().take(old_versions));
    out
}

/// Delete the [`prunable`] objects; returns how many were deleted.
async fn prune(store: &dyn ObjectStore, keep: usize) -> object_store::Result<usize> {
    let prefix = StorePath::from(MANIFEST_DIR);
    let keys: Vec<StorePath> = store.list(Some(&prefix)).map_ok(|m| m.location).try_collect().await?;
    let mut n = 0;
    for key in prunable(keys, keep) {
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Engine {
    /// The store under `<lake>/entities/` that holds the manifest (made once per engine).
    fn manifest_store(&self) -> Result<Arc<dyn ObjectStore>> {
        if let Some(s) = self.manifest_store.get() {
            return Ok(s.clone());
        }
        let url = self.table_url(ENTITIES_DIR);
        let store: Arc<dyn ObjectStore> = deltalake::logstore::store_for(&url, std::iter::empty::<(String, String)>())
            .map_err(|source| Error::Lake { table: ENTITIES_DIR.into(), source })?;
        Ok(self.manifest_store.get_or_init(|| store).clone())
    }

    fn manifest_error(e: object_store::Error) -> Error {
        Error::Lake { table: format!("{ENTITIES_DIR}/{MANIFEST_DIR}"), source: e.into() }
    }

    /// The latest manifest state: the events version the entity tables reflect, and their versions.
    pub(crate) async fn entities_latest(&self) -> Result<Option<(u64, TableVersions)>> {
        let store = self.manifest_store()?;
        let mut m = self.manifest.lock().await;
        m.refresh(store.as_ref()).await.map_err(Engine::manifest_error)?;
        m.latest(store.as_ref()).await.map_err(Engine::manifest_error)
    }

    /// The entity tables' versions for events version `v`, when a pass
    /// brought them exactly there and every entity of this engine is listed.
    pub(crate) async fn entities_at(&self, v: u64) -> Result<Option<TableVersions>> {
        let store = self.manifest_store()?;
        let mut m = self.manifest.lock().await;
        m.refresh(store.as_ref()).await.map_err(Engine::manifest_error)?;
        let state = m.state(store.as_ref(), v).await.map_err(Engine::manifest_error)?;
        Ok(state.filter(|t| self.entities.iter().all(|d| t.current(d))))
    }

    /// Record `state` as the entity tables at `events_version`.
    pub(super) async fn record_entities(&self, events_version: u64, state: &TableState) -> Result<()> {
        let store = self.manifest_store()?;
        put_manifest(store.as_ref(), events_version, state).await.map_err(Engine::manifest_error)
    }

    /// Delete superseded manifest objects (an older object of the same events
    /// version) and the states of all but the newest 1000 events versions;
    /// returns how many objects were deleted. As-of reads of a pruned version
    /// are computed from the raw events (same answers, the old speed).
    pub async fn prune_manifest(&self) -> Result<usize> {
        let store = self.manifest_store()?;
        prune(store.as_ref(), KEEP_STATES).await.map_err(Engine::manifest_error)
    }

    /// The events version the entity tables reflect (`None`: never built).
    pub async fn entities_version(&self) -> Result<Option<u64>> {
        Ok(self.entities_latest().await?.map(|(v, _)| v))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_manifest_gives_the_newest_state_of_each_version_and_reads_only_new_keys() {
        use object_store::local::LocalFileSystem;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let t = |v: &[(&str, u64)]| TableState {
            tables: v.iter().map(|(k, n)| ((*k).to_string(), *n)).collect(),
            sql: BTreeMap::new(),
        };
        let mut m = Manifest::default();
        m.refresh(&store).await.unwrap();
        assert!(m.latest(&store).await.unwrap().is_none(), "no manifest yet");
        put_manifest(&store, 3, &t(&[("a", 1), ("b", 1)])).await.unwrap();
        put_manifest(&store, 5, &t(&[("a", 1), ("b", 2)])).await.unwrap();
        // Not a manifest object (a stray file): skipped.
        std::fs::write(dir.path().join(MANIFEST_DIR).join("notes.txt"), "x").unwrap();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.latest(&store).await.unwrap().unwrap().0, 5);
        assert_eq!(m.state(&store, 3).await.unwrap().unwrap().tables, t(&[("a", 1), ("b", 1)]).tables);
        assert!(m.state(&store, 4).await.unwrap().is_none());
        // A compaction records new table versions for the same events version: the newer object wins.
        put_manifest(&store, 5, &t(&[("a", 2), ("b", 2)])).await.unwrap();
        put_manifest(&store, 6, &t(&[("a", 3), ("b", 2)])).await.unwrap();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.state(&store, 5).await.unwrap().unwrap().tables, t(&[("a", 2), ("b", 2)]).tables);
        assert_eq!(m.latest(&store).await.unwrap().unwrap().1.tables, t(&[("a", 3), ("b", 2)]).tables);
        // A fresh reader sees the same.
        let mut fresh = Manifest::default();
        fresh.refresh(&store).await.unwrap();
        assert_eq!(fresh.keys, m.keys);

        // A torn newest object (half its bytes, as a crash mid-write leaves it) reads as absent:
        // the latest state is the newest readable one, and a later pass's object is read again.
        let torn = format!("{MANIFEST_DIR}/{:020}-{:020}.json", 7, 1);
        store.put(&StorePath::from(torn), "{\"events_version\": 7, \"tab".into()).await.unwrap();
        let mut reader = Manifest::default();
        reader.refresh(&store).await.unwrap();
        assert!(reader.state(&store, 7).await.unwrap().is_none());
        let (v, latest) = reader.latest(&store).await.unwrap().unwrap();
        assert_eq!((v, latest.tables.clone()), (6, t(&[("a", 3), ("b", 2)]).tables));
        put_manifest(&store, 7, &t(&[("a", 4), ("b", 2)])).await.unwrap();
        reader.refresh(&store).await.unwrap();
        assert_eq!(reader.latest(&store).await.unwrap().unwrap().0, 7);
    }

    #[tokio::test]
    async fn readers_list_only_when_the_pointer_moved_and_pruning_keeps_the_newest_states() {
        use object_store::local::LocalFileSystem;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let t = |n: u64| TableState { tables: [("a".to_string(), n)].into(), sql: BTreeMap::new() };
        put_manifest(&store, 1, &t(1)).await.unwrap();
        let mut m = Manifest::default();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.latest(&store).await.unwrap().unwrap().0, 1);
        // An object written without moving the pointer is not listed by a running reader...
        let stray = format!("{MANIFEST_DIR}/{:020}-{:020}.json", 2, 1);
        let entry = ManifestEntry { events_version: 2, tables: t(2).tables, sql: BTreeMap::new() };
        store.put(&StorePath::from(stray), serde_json::to_vec(&entry).unwrap().into()).await.unwrap();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.latest(&store).await.unwrap().unwrap().0, 1, "pointer unchanged: no listing");
        // ... until the pointer moves: then everything after the last key is listed.
        put_manifest(&store, 3, &t(3)).await.unwrap();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.keys.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);

        // Pruning: superseded objects of a version go, then all but the newest `keep` versions.
        put_manifest(&store, 3, &t(4)).await.unwrap();
        put_manifest(&store, 4, &t(5)).await.unwrap();
        assert_eq!(prune(&store, 2).await.unwrap(), 3, "version 3's older object, versions 1 and 2");
        let left: Vec<StorePath> =
            store.list(Some(&StorePath::from(MANIFEST_DIR))).map_ok(|o| o.location).try_collect().await.unwrap();
        assert_eq!(left.iter().filter_map(manifest_version).collect::<BTreeSet<_>>(), BTreeSet::from([3, 4]));
        assert_eq!(left.len(), 2);
        // A reader that listed a pruned object and never read it reads its state as absent
        // (one it read stays in memory), and the kept ones as they are.
        m.refresh(&store).await.unwrap();
        assert!(m.state(&store, 2).await.unwrap().is_none());
        assert_eq!(m.state(&store, 3).await.unwrap().unwrap().tables, t(4).tables);
        assert_eq!(m.latest(&store).await.unwrap().unwrap(), (4, Arc::new(t(5))));
        // Pruning again deletes nothing.
        assert_eq!(prune(&store, 2).await.unwrap(), 0);
    }
}
