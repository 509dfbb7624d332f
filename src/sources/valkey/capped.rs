//! A plain-TCP link to one Valkey node that reads replies through a byte cap. The client
//! library buffers a reply whole before handing it over, so a bulk string announcing 1 GB
//! would be held in memory; here a reply that runs past the cap ends the link with an error
//! that says so. The link's reader task is aborted when the link is dropped, so a reply that
//! timed out is not read on in the background either.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a reply may hold. The largest the source asks for is a bounded XRANGE of 10 000
/// entries, far below this even with kilobytes of fields per entry.
pub const REPLY_CAP: u64 = 64 << 20;

/// A stream that counts the bytes read since the last write (the reply to what was sent)
/// and fails the read that passes `cap`.
struct CappedReads<S> {
    inner: S,
    since_write: u64,
    cap: u64,
}

fn too_big(cap: u64, got: u64) -> io::Error {
    io::Error::other(format!(
        "reply larger than the {} MiB cap ({got} bytes so far); the link is closed",
        cap >> 20
    ))
}

impl<S: AsyncRead + Unpin> AsyncRead for CappedReads<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            me.since_write += (buf.filled().len() - before) as u64;
            if me.since_write > me.cap {
                return Poll::Ready(Err(too_big(me.cap, me.since_write)));
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CappedReads<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            me.since_write = 0;
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A connection over a capped stream; dropping it stops its reader at once.
pub struct Direct {
    conn: MultiplexedConnection,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Direct {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Connects to `host:port` and sets the link up (AUTH, HELLO, SELECT) as the settings say;
/// each reply must come within `timeout`. The caller bounds the whole connect.
pub async fn connect(
    settings: &redis::RedisConnectionInfo,
    host: &str,
    port: u16,
    timeout: Duration,
) -> redis::RedisResult<Direct> {
    let tcp = tokio::net::TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let stream = CappedReads {
        inner: tcp,
        since_write: 0,
        cap: REPLY_CAP,
    };
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(timeout));
    let (conn, reader) = MultiplexedConnection::new_with_config(settings, stream, config).await?;
    Ok(Direct {
        conn,
        reader: tokio::spawn(reader),
    })
}

impl ConnectionLike for Direct {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.conn.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.conn.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
