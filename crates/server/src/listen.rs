//! The serving loop under every listener: which connections are let in, how
//! long each may stay open doing nothing, and how a shutdown drains them.
//!
//! hyper alone closes nothing that sits idle before its first byte (the
//! HTTP/1-or-2 detection waits forever) nor an HTTP/2 connection without
//! streams, and its graceful shutdown closes an idle HTTP/1 connection at
//! once, racing a request the client may be sending on it. So each connection
//! here has a watchdog that knows whether it is busy, reading a request, or
//! idle, and closes it only when its own deadline passes; on shutdown an
//! HTTP/1 connection is closed only after a response that said
//! `Connection: close`, or after sitting idle through the drain period.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use app::config::{ConnectionLimits, RequestLimits};

/// Serves `router` on `listener` until `shutdown` completes: see the module
/// documentation. Then it stops accepting (connections the kernel already
/// completed are still taken and served), tells every connection to drain,
/// and returns once all are closed or after `grace`.
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    limits: &RequestLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // Request line and headers must fit the read buffer, or hyper answers 431.
    // Timeouts are the watchdog's, not hyper's: hyper's header timer also runs
    // while a kept-alive connection waits, which would tie the two together.
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_buf_size(limits.max_header_bytes)
        .header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(limits.connections.h2_keepalive_interval)
        .keep_alive_timeout(limits.connections.h2_keepalive_timeout);
    let timing = Timing {
        header: limits.header_read_timeout,
        keepalive: limits.connections.keepalive_timeout,
        drain: limits.connections.shutdown_drain,
    };
    let admission = Arc::new(Admission::new(&limits.connections));
    let (drain_tx, drain_rx) = watch::channel(None::<Instant>);
    let draining = Arc::new(AtomicBool::new(false));
    let serve_one = |stream: TcpStream, peer: SocketAddr| {
        let Some(permit) = admission.admit(peer.ip()) else {
            // Shed at once: dropping the socket closes it before anything is
            // read, so the excess costs a file descriptor for a moment only.
            tracing::debug!(%peer, "connection limit reached; connection closed");
            return;
        };
        // A response is written whole; Nagle would only hold its last segment
        // back waiting for an ACK the client delays, adding latency.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not disable Nagle on a connection");
        }
        let watch = Arc::new(Watch::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            watch: watch.clone(),
        });
        let service = {
            let (router, watch, draining) = (router.clone(), watch.clone(), draining.clone());
            hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let busy = Busy::start(&watch, req.version());
                let draining = draining.clone();
                let answered = router.clone().oneshot(req.map(axum::body::Body::new));
                async move {
                    let mut response = answered.await?;
                    let http1 = !busy.watch.is_h2.load(Ordering::Relaxed);
                    if http1 && draining.load(Ordering::Acquire) {
                        // hyper closes the connection once this response is
                        // written, and the client knows not to reuse it.
                        response.headers_mut().insert(
                            axum::http::header::CONNECTION,
                            axum::http::HeaderValue::from_static("close"),
                        );
                    }
                    // The request counts as in flight until its body has
                    // been written: a slow reader is not an idle connection.
                    let (parts, body) = response.into_parts();
                    let body = http_body_util::BodyExt::map_frame(body, move |frame| {
                        let _in_flight = &busy;
                        frame
                    });
                    Ok::<_, std::convert::Infallible>(axum::response::Response::from_parts(
                        parts,
                        axum::body::Body::new(body),
                    ))
                }
            })
        };
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let drain = drain_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            run_connection(conn, watch, timing, drain).await;
        });
    };

    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => serve_one(stream, peer),
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // Take what the kernel has already completed, which closing the listener
    // would reset after the client may have sent its request, and close it
    // before any response says `Connection: close`: the clients that then
    // reconnect are refused, which tells them the request never arrived.
    {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        while let Poll::Ready(Ok((stream, peer))) = listener.poll_accept(&mut cx) {
            serve_one(stream, peer);
        }
    }
    drop(listener);
    draining.store(true, Ordering::Release);
    let _ = drain_tx.send(Some(Instant::now()));
    let all_closed = admission.all_closed();
    tokio::select! {
        () = all_closed => Ok(()),
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; closing remaining connections");
            Ok(())
        }
    }
}

/// The three clocks a connection runs on.
#[derive(Clone, Copy, Debug)]
struct Timing {
    header: Duration,
    keepalive: Duration,
    drain: Duration,
}

/// Serves one connection until it ends or its watchdog closes it.
async fn run_connection<C>(
    conn: C,
    watch: Arc<Watch>,
    timing: Timing,
    mut drain: watch::Receiver<Option<Instant>>,
) where
    C: Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + GracefulConn,
{
    let mut conn = pin!(conn);
    // When an HTTP/2 connection was sent GOAWAY: hyper then closes it once
    // its streams are done and its ping answered; the watchdog bounds that.
    let mut told_h2: Option<Instant> = None;
    loop {
        let started = *drain.borrow();
        let is_h2 = watch.is_h2.load(Ordering::Relaxed);
        if started.is_some() && is_h2 && told_h2.is_none() {
            // GOAWAY: the client learns which streams were taken.
            conn.as_mut().shutdown_gracefully();
            told_h2 = Some(Instant::now());
        }
        let deadline = match told_h2 {
            Some(_) if watch.in_flight.load(Ordering::Acquire) > 0 => None,
            // hyper's GOAWAY is followed by a ping, whose answer it awaits
            // before closing: a client gets the drain period to give it.
            Some(told) => Some(told + timing.drain.max(Duration::from_millis(100))),
            None => watch.deadline(timing, started),
        };
        tokio::select! {
            ended = conn.as_mut() => {
                // Clients that vanish or send garbage end here; nothing to report.
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline) => {
                if told_h2.is_some() {
                    // GOAWAY sent and the connection is still not done.
                    return;
                }
                if watch.deadline(timing, started).is_some_and(|d| d <= Instant::now()) {
                    if is_h2 {
                        conn.as_mut().shutdown_gracefully();
                        told_h2 = Some(Instant::now());
                    } else {
                        // Dropping the connection closes the socket.
                        return;
                    }
                }
            }
            () = watch.changed.notified() => {}
            changed = drain.changed(), if started.is_none() => {
                if changed.is_err() {
                    // The serving loop is gone: nothing will wait for us.
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// hyper-util's connection, seen through the one method the watchdog needs.
trait GracefulConn {
    fn shutdown_gracefully(self: Pin<&mut Self>);
}

impl<I, S, E, B> GracefulConn
    for hyper_util::server::conn::auto::UpgradeableConnection<'static, I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper_util::server::conn::auto::HttpServerConnExec<S::Future, B>,
{
    fn shutdown_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// What a connection is doing, shared by its socket, its service and its
/// watchdog. Times are milliseconds since the connection was accepted.
struct Watch {
    opened: Instant,
    /// Requests whose response has not been produced yet.
    in_flight: AtomicU32,
    /// When the last response was produced (0: none yet).
    idle_since: AtomicU64,
    /// When the first byte after the last response arrived; `u64::MAX` if none.
    reading_since: AtomicU64,
    /// Whether a request has been answered on it.
    served: AtomicBool,
    /// Whether it speaks HTTP/2.
    is_h2: AtomicBool,
    /// Whether anything has been read from it yet.
    got_bytes: AtomicBool,
    /// Wakes the watchdog when a request starts, ends, or begins arriving.
    changed: Notify,
}

impl Watch {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            reading_since: AtomicU64::new(u64::MAX),
            served: AtomicBool::new(false),
            is_h2: AtomicBool::new(false),
            got_bytes: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// When the connection must close, if nothing changes; `None` while a
    /// request is being served (the request timeout bounds that).
    fn deadline(&self, timing: Timing, drain_started: Option<Instant>) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let is_h2 = self.is_h2.load(Ordering::Relaxed);
        let reading = self.reading_since.load(Ordering::Acquire);
        if !is_h2 && reading != u64::MAX {
            // A request has begun: its headers must all be in within the header timeout.
            return Some(self.at(reading) + timing.header);
        }
        if !self.served.load(Ordering::Acquire) && !is_h2 {
            // Not one request yet: the whole first request line and headers
            // are due within the header timeout of the connection opening.
            let due = self.opened + timing.header;
            return Some(match drain_started {
                Some(since) => due.min(since + timing.drain),
                None => due,
            });
        }
        let idle = self.at(self.idle_since.load(Ordering::Acquire));
        Some(match drain_started {
            Some(since) => idle.max(since) + timing.drain.min(timing.keepalive),
            None => idle + timing.keepalive,
        })
    }
}

/// One request being served, until its response body has been written;
/// dropping it (answered or abandoned) marks the connection idle again.
struct Busy {
    watch: Arc<Watch>,
}

impl Busy {
    fn start(watch: &Arc<Watch>, version: axum::http::Version) -> Self {
        if version == axum::http::Version::HTTP_2 {
            watch.is_h2.store(true, Ordering::Relaxed);
        }
        watch.in_flight.fetch_add(1, Ordering::AcqRel);
        watch.reading_since.store(u64::MAX, Ordering::Release);
        watch.changed.notify_one();
        Self {
            watch: watch.clone(),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let w = &self.watch;
        w.idle_since.store(w.now_ms(), Ordering::Release);
        w.served.store(true, Ordering::Release);
        w.in_flight.fetch_sub(1, Ordering::AcqRel);
        w.changed.notify_one();
    }
}

/// The socket, noting when the first byte of a request arrives on an idle
/// connection so that the header timeout starts then.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let w = &self.watch;
            if before == 0 && !w.got_bytes.swap(true, Ordering::Relaxed) {
                // The first bytes of the connection tell HTTP/2's preface
                // before any request does, so an idle one is known as such.
                if buf.filled().starts_with(b"PRI *") {
                    w.is_h2.store(true, Ordering::Relaxed);
                }
            }
            if w.in_flight.load(Ordering::Acquire) == 0
                && w.reading_since.load(Ordering::Acquire) == u64::MAX
            {
                w.reading_since.store(w.now_ms(), Ordering::Release);
                w.changed.notify_one();
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Counts open connections, in all and per client address, and refuses past
/// the caps.
struct Admission {
    max_total: usize,
    max_per_ip: usize,
    exempt: Vec<app::config::IpNet>,
    counts: Mutex<Counts>,
    emptied: Notify,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Admission {
    fn new(limits: &ConnectionLimits) -> Self {
        Self {
            max_total: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
            exempt: limits.per_ip_exempt.clone(),
            counts: Mutex::new(Counts::default()),
            emptied: Notify::new(),
        }
    }

    /// A permit for one more connection from `ip`, or `None` past a cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let ip = client_key(ip);
        let counted = !self.exempt.iter().any(|net| net.contains(&ip));
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.max_total {
            return None;
        }
        if counted {
            let n = counts.per_ip.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return None;
            }
            *n += 1;
        }
        counts.total += 1;
        Some(Permit {
            admission: self.clone(),
            ip: counted.then_some(ip),
        })
    }

    /// Completes once no connection is open.
    async fn all_closed(&self) {
        loop {
            let emptied = self.emptied.notified();
            let mut emptied = pin!(emptied);
            emptied.as_mut().enable();
            if self.counts.lock().unwrap_or_else(|e| e.into_inner()).total == 0 {
                return;
            }
            emptied.await;
        }
    }
}

/// The address a client is counted under: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 by its /64, the block one customer line gets.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// One admitted connection; dropping it frees its place.
struct Permit {
    admission: Arc<Admission>,
    ip: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self
            .admission
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        counts.total -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = counts.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&ip);
            }
        }
        if counts.total == 0 {
            self.admission.emptied.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_ip: usize, exempt: &[&str]) -> Arc<Admission> {
        Arc::new(Admission::new(&ConnectionLimits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            per_ip_exempt: exempt
                .iter()
                .filter_map(|s| app::config::IpNet::parse(s))
                .collect(),
            ..ConnectionLimits::default()
        }))
    }

    #[test]
    fn caps_per_address_and_in_all_and_frees_on_drop() {
        let a = admission(3, 2, &["10.0.0.1"]);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let p1 = a.admit(one).unwrap();
        let _p2 = a.admit(one).unwrap();
        assert!(a.admit(one).is_none(), "third from one address");
        drop(p1);
        let _p3 = a.admit(one).unwrap();
        let _proxy = a.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert!(
            a.admit("192.0.2.2".parse().unwrap()).is_none(),
            "the total is full"
        );
    }

    #[test]
    fn the_proxy_counts_against_the_total_only() {
        let a = admission(3, 1, &["10.0.0.0/8"]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let _k: Vec<_> = (0..3).map(|_| a.admit(proxy).unwrap()).collect();
        assert!(a.admit(proxy).is_none(), "the total still caps the proxy");
        assert!(a.admit("192.0.2.9".parse().unwrap()).is_none());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let a = admission(10, 1, &[]);
        let _p = a.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(a.admit("2001:db8:1:2::ffff".parse().unwrap()).is_none());
        assert!(a.admit("2001:db8:1:3::1".parse().unwrap()).is_some());
        let _v4 = a.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert!(a.admit("::ffff:192.0.2.1".parse().unwrap()).is_none());
    }
}
