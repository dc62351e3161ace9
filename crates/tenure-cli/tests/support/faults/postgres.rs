//! A PostgreSQL server of one test alone: `initdb` in the test's temporary directory,
//! `pg_ctl start` on a free loopback port, killable (the postmaster and every backend
//! SIGKILLed: a crash, recovered from the write-ahead log on the next start) and
//! restartable on the same directory and port. Run as the `postgres` user when the
//! test runs as root, which PostgreSQL refuses to run as.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tenure_test::backend::backends_required;
use tokio::net::TcpStream;

use super::procs::free_port;

/// How long the server may take to start or to go.
const START: Duration = Duration::from_secs(60);

/// A private PostgreSQL server.
#[derive(Debug)]
pub struct PostgresServer {
    pub addr: SocketAddr,
    dir: PathBuf,
    bin: PathBuf,
    as_root: bool,
}

impl PostgresServer {
    /// Creates a cluster in `dir` and starts it. `None` (skip) if PostgreSQL's server
    /// programs are not installed and backends are not required.
    pub async fn start(dir: &Path) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            assert!(!backends_required(), "PostgreSQL's initdb is required");
            eprintln!("skipped: no initdb");
            return None;
        };
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = dir.join("postgres");
        std::fs::create_dir_all(&dir).unwrap();
        let server = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            dir,
            bin,
            as_root,
        };
        if as_root {
            let owned = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&server.dir)
                .status()
                .unwrap();
            assert!(owned.success(), "chown the server's directory to postgres");
        }
        let data = server.data();
        let status = server
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let mut server = server;
        server.restart().await;
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@{}/postgres", self.addr)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command of PostgreSQL's, as the `postgres` user if this runs as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_root {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// (Re)starts the server on its port and directory; waits until it accepts
    /// connections (after a crash, once recovery is done).
    pub async fn restart(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.addr.port(),
            self.dir.display()
        );
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .expect("run pg_ctl start");
        assert!(
            status.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&status.stdout),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// SIGKILLs the postmaster and every backend at once, and waits until all of
    /// them are gone and the port is closed: the server crashed.
    pub async fn kill(&mut self) {
        let postmaster = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
            .expect("the postmaster's pid");
        let children = Command::new("pgrep")
            .args(["-P", &postmaster])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let mut pids: Vec<String> = children.split_whitespace().map(str::to_string).collect();
        pids.push(postmaster);
        // A backend may exit on its own meanwhile: kill's status is not checked, the
        // wait below is.
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .stderr(std::process::Stdio::null())
            .status();
        // Backends that outlived the postmaster would keep its shared memory.
        tenure_test::wait_until(START, "every process of the old server gone", || {
            let pids = pids.clone();
            async move { pids.iter().all(|pid| gone(pid)) }
        })
        .await;
        let addr = self.addr;
        tenure_test::wait_until(START, "PostgreSQL's port closed", || async move {
            TcpStream::connect(addr).await.is_err()
        })
        .await;
        // A killed postmaster not yet reaped still "exists" to the next one's check
        // of its lock files; it is dead, so they go.
        let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
        let socket = format!(".s.PGSQL.{}", self.addr.port());
        let _ = std::fs::remove_file(self.dir.join(format!("{socket}.lock")));
        let _ = std::fs::remove_file(self.dir.join(socket));
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// Whether process `pid` has exited (a zombie waiting to be reaped has: it holds no
/// memory).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.join("initdb").exists());
    from_config.or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        dirs.sort();
        dirs.pop()
    })
}
