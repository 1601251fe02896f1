//! [`FsyncStore`]: a `LocalFileSystem` that makes every write durable before
//! it reports success.
//!
//! `object_store`'s local store writes a staging file and renames (or
//! hard-links) it into place, but never calls `fsync`: after a power loss or
//! kernel crash a commit acknowledged to a caller could be gone, or worse, a
//! `_delta_log` entry could survive while the Parquet file it names does not.
//!
//! Why a wrapper rather than "fsync everything after the commit returns": the
//! Delta writer puts data files first and the log entry last. With the
//! wrapper, each data file (and the directories leading to it) is on disk
//! *before* the log entry is even written, so there is no instant where a
//! durable log entry names a non-durable file; and the log entry itself is
//! fsynced (file and `_delta_log/` directory) before `put` returns, i.e.
//! before the commit returns to us and before we acknowledge anything.
//! Checkpoints and `_last_checkpoint` go through the same path.

use std::fmt;
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// A local file system object store rooted at `/` that fsyncs files and their
/// parent directories on every write.
#[derive(Debug, Clone)]
pub struct FsyncStore {
    inner: Arc<LocalFileSystem>,
    /// Directories above this one are not fsynced (they existed before we started).
    floor: PathBuf,
}

impl FsyncStore {
    /// A store over the whole file system; directories are fsynced from a
    /// written file up to (and including) `floor`.
    pub fn new(floor: impl Into<PathBuf>) -> Self {
        FsyncStore { inner: Arc::new(LocalFileSystem::new()), floor: floor.into() }
    }

    fn fs_path(&self, location: &Path) -> object_store::Result<PathBuf> {
        self.inner.path_to_filesystem(location)
    }

    async fn sync_path(&self, location: &Path) -> object_store::Result<()> {
        let path = self.fs_path(location)?;
        let floor = self.floor.clone();
        tokio::task::spawn_blocking(move || sync_file_and_parents(&path, &floor))
            .await
            .map_err(|e| generic(e.to_string()))?
            .map_err(|e| generic(e.to_string()))
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic { store: "FsyncStore", source: message.into() }
}

/// `fsync` the file, then every directory from its parent up to `floor`.
pub(crate) fn sync_file_and_parents(path: &FsPath, floor: &FsPath) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    let mut dir = path.parent();
    while let Some(d) = dir {
        std::fs::File::open(d)?.sync_all()?;
        if d == floor || !d.starts_with(floor) {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

impl fmt::Display for FsyncStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FsyncStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FsyncStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let result = self.inner.put_opts(location, payload, opts).await?;
        self.sync_path(location).await?;
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FsyncUpload { inner: upload, store: self.clone(), location: location.clone() }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<bytes_alias::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.sync_path(to).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        self.sync_path(to).await
    }
}

/// `Bytes` as `object_store` names it, without a direct dependency on `bytes`.
mod bytes_alias {
    pub(crate) type Bytes = <object_store::PutPayload as IntoIterator>::Item;
}

#[derive(Debug)]
struct FsyncUpload {
    inner: Box<dyn MultipartUpload>,
    store: FsyncStore,
    location: Path,
}

#[async_trait]
impl MultipartUpload for FsyncUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let result = self.inner.complete().await?;
        self.store.sync_path(&self.location).await?;
        Ok(result)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use object_store::ObjectStoreExt as _;

    #[tokio::test]
    async fn put_and_multipart_write_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsyncStore::new(dir.path());
        let p = Path::from(dir.path().join("a/b.txt").to_str().unwrap());
        store.put(&p, PutPayload::from_static(b"hello")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/b.txt")).unwrap(), b"hello");

        let q = Path::from(dir.path().join("c/d.bin").to_str().unwrap());
        let mut up = store.put_multipart(&q).await.unwrap();
        up.put_part(PutPayload::from_static(b"12")).await.unwrap();
        up.put_part(PutPayload::from_static(b"34")).await.unwrap();
        up.complete().await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("c/d.bin")).unwrap(), b"1234");

        // A conditional create of an existing object fails as with LocalFileSystem.
        let err = store
            .put_opts(&p, PutPayload::from_static(b"x"), PutOptions::from(object_store::PutMode::Create))
            .await
            .unwrap_err();
        assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "{err}");
    }
}
