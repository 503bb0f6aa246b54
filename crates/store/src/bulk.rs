//! Writing a whole store's records at once (a restore, the move from
//! sled): in batches, outside transactions, with nothing else writing.

/// Records written per batch.
const BATCH: usize = 10_000;

/// Collects records and writes them a batch at a time.
pub(crate) struct BulkWriter<'a> {
    keyspace: &'a fjall::TxKeyspace,
    batch: fjall::Batch,
    pending: usize,
}

impl<'a> BulkWriter<'a> {
    pub(crate) fn new(keyspace: &'a fjall::TxKeyspace) -> Self {
        Self {
            keyspace,
            batch: keyspace.inner().batch(),
            pending: 0,
        }
    }

    /// Adds a record; writes the batch once it is full.
    pub(crate) fn insert(
        &mut self,
        table: &fjall::TxPartitionHandle,
        key: &[u8],
        value: &[u8],
    ) -> fjall::Result<()> {
        self.batch.insert(table.inner(), key, value);
        self.pending += 1;
        if self.pending == BATCH {
            let full = std::mem::replace(&mut self.batch, self.keyspace.inner().batch());
            full.commit()?;
            self.pending = 0;
        }
        Ok(())
    }

    /// Writes what is left.
    pub(crate) fn finish(self) -> fjall::Result<()> {
        self.batch.commit()
    }
}
