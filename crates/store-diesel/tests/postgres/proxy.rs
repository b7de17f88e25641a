//! A TCP proxy in front of the PostgreSQL server that the test switches between forwarding,
//! refusing (a server that is down or restarting: live connections are cut, new ones closed at
//! once), refusing only new connections (a full listen queue, a firewall change) and stalling (a
//! network partition: nothing gets through, nothing is closed).

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Relay bytes both ways.
    Forward,
    /// Close live connections and every new one.
    Refuse,
    /// Keep relaying on live connections; close every new one.
    RefuseNew,
    /// Relay nothing and close nothing, until the mode changes (then close).
    Stall,
}

/// The proxy; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, _) = watch::channel(Mode::Forward);
        let modes = mode.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream, modes.subscribe()));
            }
        });
        Proxy { addr, mode, acceptor }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches every connection, live and new, to `mode`.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn serve(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let now = *mode.borrow_and_update();
    match now {
        Mode::Refuse | Mode::RefuseNew => return,
        Mode::Stall => {
            // Accepted, then silence: the client's handshake hangs.
            let _ = mode.changed().await;
            return;
        }
        Mode::Forward => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let mut client = client;
    let relay = copy_bidirectional(&mut client, &mut server);
    tokio::pin!(relay);
    loop {
        tokio::select! {
            _ = &mut relay => return,
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *mode.borrow_and_update();
                match now {
                    Mode::Forward | Mode::RefuseNew => {}
                    // Both sockets close now.
                    Mode::Refuse => return,
                    // Hold them, silent, until the next change; then close.
                    Mode::Stall => {
                        let _ = mode.changed().await;
                        return;
                    }
                }
            }
        }
    }
}
