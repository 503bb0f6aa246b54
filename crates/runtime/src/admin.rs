//! `jilin.admin.v1.StoreAdmin`, served by every service beside its API:
//! a backup of the service's store while it runs (admin role only). The
//! snapshot is written beside the store, streamed to the caller, then
//! removed.

use jilin_auth::Role;
use jilin_proto::admin::v1::store_admin_server::{StoreAdmin, StoreAdminServer};
use jilin_proto::admin::v1::{BackupChunk, BackupRequest};
use jilin_store::{Store, unfinished_backup_path};
use tokio::io::AsyncReadExt;
use tonic::{Request, Response, Status};

use crate::{Clock, ResponseStream, channel_stream, permission_denied, principal};

/// Bytes per streamed chunk.
const CHUNK: usize = 256 * 1024;

/// The store administration API of one service.
pub struct StoreAdminApi {
    store: Store,
    clock: Clock,
}

impl StoreAdminApi {
    /// The gRPC server of `store`'s administration; backups are stamped
    /// with `clock`'s time.
    pub fn server(store: Store, clock: Clock) -> StoreAdminServer<Self> {
        StoreAdminServer::new(Self { store, clock })
    }
}

#[tonic::async_trait]
impl StoreAdmin for StoreAdminApi {
    type BackupStream = ResponseStream<BackupChunk>;

    async fn backup(
        &self,
        request: Request<BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        principal(&request)?
            .require(Role::Admin)
            .map_err(|denied| permission_denied(&denied))?;
        let store = self.store.clone();
        let taken_at = self
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let path = unfinished_backup_path(store.dir());
        let file = path.clone();
        let taken = tokio::task::spawn_blocking(move || store.backup_to(&file, &taken_at))
            .await
            .map_err(|err| Status::internal(format!("the backup failed: {err}")))?;
        let summary = match taken {
            Ok(summary) => summary,
            Err(err) => {
                let _ = std::fs::remove_file(&path);
                tracing::error!(error = %err, "backup failed");
                return Err(Status::internal(format!("the backup failed: {err}")));
            }
        };
        tracing::info!(
            records = summary.records,
            bytes = summary.bytes,
            "backup taken"
        );
        Ok(Response::new(channel_stream(move |sender| async move {
            if let Err(err) = send_file(&path, &sender).await {
                let _ = sender
                    .send(Err(Status::internal(format!(
                        "cannot read the backup: {err}"
                    ))))
                    .await;
            }
            let _ = tokio::fs::remove_file(&path).await;
        })))
    }
}

/// Sends the file at `path` in chunks until it ends or the caller leaves.
async fn send_file(
    path: &std::path::Path,
    sender: &tokio::sync::mpsc::Sender<Result<BackupChunk, Status>>,
) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    loop {
        let mut data = vec![0; CHUNK];
        let read = file.read(&mut data).await?;
        if read == 0 {
            return Ok(());
        }
        data.truncate(read);
        if sender.send(Ok(BackupChunk { data })).await.is_err() {
            return Ok(());
        }
    }
}
