//! Group commit for the audit log: requests hand their events to one writer, which appends
//! whatever has queued up meanwhile in a single transaction. Every request still waits until its
//! event is committed, but a burst of requests costs one chained write instead of one each.

use std::sync::Arc;

use domain::AuditEvent;
use store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Events per transaction, at most.
const MAX_BATCH: usize = 512;
/// Events waiting for the writer, at most; further requests wait for room.
const QUEUE: usize = 4096;

type Ack = oneshot::Sender<Result<(), String>>;

#[derive(Debug, Clone)]
pub(crate) struct AuditWriter {
    queue: mpsc::Sender<(AuditEvent, Ack)>,
    store: Arc<dyn Store>,
}

impl AuditWriter {
    /// Starts the writer on the current runtime.
    pub(crate) fn start(store: Arc<dyn Store>) -> Self {
        let (queue, mut incoming) = mpsc::channel::<(AuditEvent, Ack)>(QUEUE);
        let writer_store = store.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (events, acks): (Vec<AuditEvent>, Vec<Ack>) = batch.drain(..).unzip();
                let result = writer_store.append_audit_batch(&events).await;
                match result {
                    Ok(()) => acks.into_iter().for_each(|ack| {
                        let _ = ack.send(Ok(()));
                    }),
                    // One transaction failed: try each event alone, so one cannot sink the rest.
                    Err(_) => {
                        for (event, ack) in events.into_iter().zip(acks) {
                            let alone = writer_store.append_audit(event).await;
                            let _ = ack.send(alone.map_err(|e| error_text(&e)));
                        }
                    }
                }
            }
        });
        Self { queue, store }
    }

    /// Appends an event and waits until it is committed.
    pub(crate) async fn append(&self, event: AuditEvent) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        match self.queue.send((event, ack)).await {
            Ok(()) => done
                .await
                .unwrap_or_else(|_| Err("the audit writer stopped".to_owned())),
            // The writer is gone (runtime shutting down): write directly.
            Err(mpsc::error::SendError((event, _))) => self
                .store
                .append_audit(event)
                .await
                .map_err(|e| error_text(&e)),
        }
    }
}

fn error_text(error: &StoreError) -> String {
    crate::error::ErrorChain(error).to_string()
}
