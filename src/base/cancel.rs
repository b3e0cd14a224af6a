//! Cancelling a running command from elsewhere (the engine's Ctrl-C or SIGTERM
//! handler), without tokio-util.

use tokio::sync::watch;

/// The side that cancels. Dropping it without cancelling cancels nothing.
#[derive(Debug, Clone)]
pub struct Canceller {
    tx: watch::Sender<bool>,
}

/// The side a running command watches. Cheap to clone; every clone sees the cancel.
#[derive(Debug, Clone)]
pub struct CancelSignal {
    rx: watch::Receiver<bool>,
}

/// A connected pair.
pub fn cancel_pair() -> (Canceller, CancelSignal) {
    let (tx, rx) = watch::channel(false);
    (Canceller { tx }, CancelSignal { rx })
}

impl Canceller {
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    pub fn signal(&self) -> CancelSignal {
        CancelSignal { rx: self.tx.subscribe() }
    }
}

impl CancelSignal {
    /// A signal that never fires.
    pub fn never() -> Self {
        cancel_pair().1
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes once cancelled; never completes if the canceller is dropped first.
    pub async fn cancelled(&mut self) {
        if self.rx.wait_for(|cancelled| *cancelled).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
