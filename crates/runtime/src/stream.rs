//! Server-streaming responses fed by a task.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_stream::Stream;

/// The stream type of a server-streaming RPC.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;

/// A response stream fed by a task through a small channel; the task
/// ends when the client goes away (its next send fails).
pub fn channel_stream<T, F, Fut>(produce: F) -> ResponseStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<Result<T, tonic::Status>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(produce(sender));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}
