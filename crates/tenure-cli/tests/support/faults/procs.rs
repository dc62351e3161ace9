//! The processes a fault test runs: a private `redis-server` (killable, restartable on
//! its directory and port), `tenure serve` and `tenure route`, each killed on drop,
//! with their stderr in a log file of the test's temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tenure_test::backend::backends_required;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a process may take to start listening.
const START: Duration = Duration::from_secs(30);

/// A directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name starts with `name`.
    pub fn new(name: &str) -> Self {
        let mut raw = [0u8; 4];
        getrandom::fill(&mut raw).unwrap();
        let path = std::env::temp_dir().join(format!(
            "tenure-{name}-{}-{:08x}",
            std::process::id(),
            u32::from_le_bytes(raw)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Sends one command to Redis at `addr` in RESP and answers the first line of the
/// reply (e.g. `+PONG`, `:3`), or `None` if Redis cannot be reached or does not
/// answer within 2 s.
pub async fn redis_command(addr: SocketAddr, args: &[&str]) -> Option<String> {
    let talk = async {
        let mut conn = TcpStream::connect(addr).await.ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        conn.write_all(request.as_bytes()).await.ok()?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while conn.read(&mut byte).await.ok()? == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&line).trim_end().to_string())
    };
    tokio::time::timeout(Duration::from_secs(2), talk)
        .await
        .ok()
        .flatten()
}

/// A `redis-server` of this test alone, on a free loopback port.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: PathBuf,
    persistent: bool,
}

impl RedisServer {
    /// Starts one in `dir`; `persistent`: with `--appendonly yes --appendfsync
    /// always`, else with no persistence. `None` (skip) if `redis-server` is not
    /// installed and backends are not required.
    pub async fn start(dir: &Path, persistent: bool) -> Option<Self> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            assert!(!backends_required(), "redis-server is required");
            eprintln!("skipped: no redis-server");
            return None;
        }
        let mut server = Self {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            dir: dir.to_path_buf(),
            persistent,
        };
        server.restart().await;
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// (Re)starts the server on its port and directory; waits until it answers PING.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.addr.port().to_string();
        let dir = self.dir.to_string_lossy().into_owned();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port, "--bind", "127.0.0.1", "--dir", &dir])
            .args(["--save", "", "--daemonize", "no", "--logfile", "redis.log"]);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        self.child = Some(cmd.spawn().expect("spawn redis-server"));
        let addr = self.addr;
        tenure_test::wait_until(START, "redis-server answers PING", || async move {
            redis_command(addr, &["PING"]).await.as_deref() == Some("+PONG")
        })
        .await;
    }

    /// SIGKILLs the server and waits until it is gone.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
}

/// Unix signals the tests send.
#[derive(Debug, Clone, Copy)]
pub enum Signal {
    Stop,
    Cont,
    Term,
}

/// A `tenure` process (`serve` or `route`) that printed `listening on http://ADDR`.
#[derive(Debug)]
pub struct Tenure {
    child: Child,
    pub addr: SocketAddr,
    pub name: String,
    log: PathBuf,
}

impl Tenure {
    /// Runs `tenure ARGS`, its stderr in `dir/NAME.log`; waits until it listens.
    pub async fn start(dir: &Path, name: &str, args: &[String]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tenure"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn tenure");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(START, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{name} did not listen within {START:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("{name} exited before listening: {}", tail(&log)));
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"))
            .parse()
            .unwrap();
        // Drain stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            addr,
            name: name.to_string(),
            log,
        }
    }

    pub fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("still running");
        let name = match signal {
            Signal::Stop => "-STOP",
            Signal::Cont => "-CONT",
            Signal::Term => "-TERM",
        };
        let status = std::process::Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name} {pid}");
    }

    /// SIGKILLs the process and waits until it is gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// The last lines the process wrote to stderr.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

/// The last 20 lines of the file at `path`.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
