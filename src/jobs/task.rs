//! A background task of `serve` that can be asked to stop: it receives a stop signal, finishes
//! what it is doing, and `stop` waits for it, so shutdown never cuts work in half.

use std::future::Future;

use tokio::{sync::watch, task::JoinHandle};

/// A running (or idle) background task.
pub struct Task {
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
}

impl Task {
    /// A task that does nothing (the feature is not configured).
    pub fn idle() -> Self {
        let (stop, _) = watch::channel(false);
        Self { stop, handle: None }
    }

    /// Runs `work`, which should return soon after its receiver reports a change.
    pub fn spawn<F, Fut>(work: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        Self {
            stop,
            handle: Some(tokio::spawn(work(stopped))),
        }
    }

    /// Asks the task to stop and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::Task;

    #[tokio::test]
    async fn stop_waits_for_the_task_to_finish() {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let task = Task::spawn(|mut stopped| async move {
            let _ = stopped.changed().await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });

        task.stop().await;

        assert!(finished.load(Ordering::SeqCst));
        Task::idle().stop().await;
    }
}
