//! A TCP proxy in front of a real server whose fault can be switched while it runs: latency,
//! a stall or a reset in the middle of a reply, a slow drip, a reply of 1 GB, garbage bytes.
//! Faults act on replies (upstream → client), so a connection opened while all was well is hit
//! as surely as a new one; a reply cut short ends its connection. Test files that use it
//! include it by path (the pipeline's tests share `common/mod.rs` without its dependencies).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to the next reply chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Each reply chunk waits this long before it is forwarded.
    Latency(Duration),
    /// Forwards the first half of a reply chunk, then sends nothing while the fault lasts.
    StallMidBody,
    /// Forwards the first half of a reply chunk, then closes with SO_LINGER 0 (an RST).
    ResetMidReply,
    /// Forwards replies one byte every 100 ms.
    Drip,
    /// Answers with a header announcing (or, for HTTP, not bounding) ~1 GB, then streams it.
    Huge,
    /// Answers 4 KiB of random bytes, then closes.
    Garbage,
}

impl Fault {
    /// A short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::Latency(_) => "latency",
            Fault::StallMidBody => "stall mid-body",
            Fault::ResetMidReply => "reset mid-reply",
            Fault::Drip => "drip 1 B/100 ms",
            Fault::Huge => "1 GB reply",
            Fault::Garbage => "garbage",
        }
    }
}

/// The wire the upstream speaks, for the shape of a huge reply.
#[derive(Clone, Copy, Debug)]
pub enum Wire {
    Http,
    /// RESP (Valkey): a bulk string header announcing 1 GB.
    Resp,
}

/// Bytes a huge reply streams.
pub const HUGE_BYTES: u64 = 1 << 30;

/// A running proxy on 127.0.0.1; it stops accepting when dropped and ends its connections.
pub struct FaultProxy {
    pub port: u16,
    fault: Arc<Mutex<Fault>>,
    stop: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Shared {
    fault: Arc<Mutex<Fault>>,
    stop: Arc<AtomicBool>,
    wire: Wire,
}

impl Shared {
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl FaultProxy {
    /// Listens on a free port and forwards every connection to `upstream_port`.
    pub fn start(upstream_port: u16, wire: Wire) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Shared {
            fault: Arc::new(Mutex::new(Fault::Pass)),
            stop: Arc::new(AtomicBool::new(false)),
            wire,
        };
        let (fault, stop) = (shared.fault.clone(), shared.stop.clone());
        std::thread::spawn(move || {
            while !shared.stopped() {
                match listener.accept() {
                    Ok((client, _)) => {
                        let sh = shared.clone();
                        std::thread::spawn(move || connection(client, upstream_port, sh));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy { port, fault, stop }
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One client connection: requests go up untouched on a thread of their own, replies come
/// down through the fault. Only this thread closes the client's socket, so a reset is not
/// preceded by a FIN from the other.
fn connection(client: TcpStream, upstream_port: u16, sh: Shared) {
    let _ = client.set_nonblocking(false);
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    let (Ok(mut c_in), Ok(mut u_out)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = c_in.read(&mut buf) {
            if n == 0 || u_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = u_out.shutdown(Shutdown::Both);
    });
    let end = replies(&upstream, &client, &sh);
    let _ = upstream.shutdown(Shutdown::Both);
    if end == End::Reset {
        // Linger 0 makes the close an RST; shutting down reading wakes the other thread
        // without sending anything.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
        let _ = client.shutdown(Shutdown::Read);
    } else {
        let _ = client.shutdown(Shutdown::Both);
    }
    let _ = up.join();
    drop(client);
}

#[derive(PartialEq, Eq)]
enum End {
    Close,
    Reset,
}

/// Forwards replies through whatever fault holds when each chunk arrives; returns how the
/// client's connection is to end once either side ends or a fault ends it.
fn replies(mut upstream: &TcpStream, mut client: &TcpStream, sh: &Shared) -> End {
    let mut buf = [0u8; 16 * 1024];
    let _ = upstream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = client.set_write_timeout(Some(Duration::from_secs(5)));
    while !sh.stopped() {
        let n = match upstream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        };
        let chunk = &buf[..n];
        let keep_going = match sh.fault() {
            Fault::Pass => client.write_all(chunk).is_ok(),
            Fault::Latency(d) => {
                std::thread::sleep(d);
                client.write_all(chunk).is_ok()
            }
            Fault::Drip => drip(client, chunk, sh),
            Fault::StallMidBody => {
                let _ = client.write_all(&chunk[..n.div_ceil(2)]);
                while sh.fault() == Fault::StallMidBody && !sh.stopped() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                false
            }
            Fault::ResetMidReply => {
                let _ = client.write_all(&chunk[..n.div_ceil(2)]);
                return End::Reset;
            }
            Fault::Huge => {
                huge(client, sh);
                false
            }
            Fault::Garbage => {
                let _ = client.write_all(&garbage(4096, n as u64));
                false
            }
        };
        if !keep_going {
            break;
        }
    }
    End::Close
}

/// One byte every 100 ms while the fault lasts, the rest at once when it ends.
fn drip(mut client: &TcpStream, chunk: &[u8], sh: &Shared) -> bool {
    for (i, b) in chunk.iter().enumerate() {
        if sh.fault() != Fault::Drip || sh.stopped() {
            return client.write_all(&chunk[i..]).is_ok();
        }
        if client.write_all(&[*b]).is_err() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// The header of a 1 GB reply, then its bytes as fast as the client takes them.
fn huge(mut client: &TcpStream, sh: &Shared) {
    let head = match sh.wire {
        // No Content-Length: the body runs until the connection closes, so only a reader
        // that counts what it takes can stop it.
        Wire::Http => {
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n".to_string()
        }
        Wire::Resp => format!("${HUGE_BYTES}\r\n"),
    };
    if client.write_all(head.as_bytes()).is_err() {
        return;
    }
    let block = [b'a'; 64 * 1024];
    let mut sent = 0u64;
    while sent < HUGE_BYTES && !sh.stopped() {
        if client.write_all(&block).is_err() {
            return;
        }
        sent += block.len() as u64;
    }
}

/// `len` pseudo-random bytes (xorshift, seeded so a failure can be replayed).
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
