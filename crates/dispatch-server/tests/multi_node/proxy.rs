//! A TCP proxy with a switch, put between the nodes and Redis to cut the backplane.
//!
//! Cutting closes every proxied connection at once and blackholes new ones: they are accepted
//! but nothing is forwarded and nothing is answered (as behind a dead link), until the switch is
//! restored, when they are closed so that their clients reconnect.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; stops with the test's runtime.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `true` while cut.
    cut: watch::Sender<bool>,
}

impl Proxy {
    /// Listens on a free local port and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cut, _) = watch::channel(false);
        let switch = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let switch = switch.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(forward(client, upstream, switch));
            }
        });
        Proxy { addr, cut }
    }

    /// Closes every proxied connection and blackholes new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards again (blackholed connections are closed; their clients reconnect).
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// Serves one accepted connection according to the switch.
async fn forward(mut client: TcpStream, upstream: String, mut switch: watch::Receiver<bool>) {
    if *switch.borrow_and_update() {
        // Blackholed: hold it, silent, until the link is back; then close it.
        let _ = switch.wait_for(|cut| !*cut).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // Cut: dropping both sockets closes them.
        _ = switch.wait_for(|cut| *cut) => {}
    }
}
