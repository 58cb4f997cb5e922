//! The real binaries as processes: find a workspace binary next to the running test,
//! start it with an environment, capture its output in a log file, signal it (SIGTERM,
//! SIGKILL) and kill it on drop. Also a private `redis-server` (for tests that restart
//! Redis: never the shared one on 6379).

use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>`: the directory of the running test executable (which lives in
/// `target/<profile>/deps`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

/// The path of workspace binary `name`: `CARGO_BIN_EXE_<name>` when cargo set it, else
/// `target/<profile>/<name>`. Panics with a hint when it was not built.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(p);
    }
    let path = profile_dir().join(name);
    if !path.exists() {
        panic!(
            "binary {} not found: build it first (cargo build --workspace)",
            path.display()
        );
    }
    path
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("no free port: {e}"),
    }
}

/// A child process whose stdout and stderr go to a log file; killed (SIGKILL) on drop.
pub struct Process {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    /// Starts workspace binary `name` (see [`binary`]) with extra environment variables.
    pub fn spawn(name: &str, env: &[(&str, &str)]) -> Process {
        Self::spawn_path(&binary(name), &[], env)
    }

    /// Starts any program.
    pub fn spawn_path(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "process".into());
        let log = std::env::temp_dir().join(format!(
            "testkit-{name}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let out = File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create log file {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share log file {}: {e}", log.display()));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Process {
            name,
            child: Some(child),
            log,
        }
    }

    /// The process id (0 once it was reaped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process printed so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits until the log contains `needle` (true) or `timeout` passes or it exits (false).
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            if !self.is_running() {
                return self.logs().contains(needle);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`, ...) with `kill(1)`.
    pub fn signal(&self, signal: &str) -> io::Result<()> {
        let pid = self.pid();
        if pid == 0 {
            return Ok(());
        }
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("kill -{signal} {pid} failed")))
        }
    }

    /// Waits up to `timeout` for the exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits up to `timeout` (SIGKILL after that). The exit status when it
    /// stopped by itself.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.signal("TERM").is_err() {
            self.kill();
            return None;
        }
        match self.wait_timeout(timeout) {
            Some(s) => Some(s),
            None => {
                eprintln!(
                    "{} did not stop within {timeout:?} of SIGTERM; killing it",
                    self.name
                );
                self.kill();
                None
            }
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() || std::env::var("KEEP_TEST_LOGS").is_ok() {
            eprintln!("{} log kept at {}", self.name, self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A private `redis-server` on a free port with append-only persistence in `dir`, so it
/// can be stopped and started again without losing data.
pub struct RedisServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: PathBuf,
    process: Option<Process>,
}

impl RedisServer {
    /// Starts `redis-server --appendonly yes --appendfsync everysec --dir <dir>` on a free
    /// port and waits until it answers.
    pub fn start(dir: &Path) -> RedisServer {
        let mut r = RedisServer {
            port: free_port(),
            dir: dir.to_path_buf(),
            process: None,
        };
        r.start_again();
        r
    }

    /// `redis://127.0.0.1:<port>/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it again (same port and directory) after [`RedisServer::shutdown`].
    pub fn start_again(&mut self) {
        let port = self.port.to_string();
        let dir = self.dir.to_string_lossy().to_string();
        let args = [
            "--port",
            port.as_str(),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            dir.as_str(),
            "--save",
            "",
        ];
        let process = Process::spawn_path(Path::new("redis-server"), &args, &[]);
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.cli(&["ping"]).is_ok_and(|o| o.contains("PONG")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let logs = self.process.as_ref().map(Process::logs).unwrap_or_default();
        panic!("redis-server on port {} did not start:\n{logs}", self.port);
    }

    /// Runs `redis-cli -p <port> <args>` and returns its output.
    pub fn cli(&self, args: &[&str]) -> io::Result<String> {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// `redis-cli shutdown` (which writes the append-only file), and waits for the exit.
    pub fn shutdown(&mut self) {
        let _ = self.cli(&["shutdown"]);
        if let Some(mut p) = self.process.take()
            && p.wait_timeout(Duration::from_secs(20)).is_none()
        {
            p.kill();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }
}
