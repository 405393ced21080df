//! A private PostgreSQL for TLS tests: never the shared cluster of `DATABASE_URL`, whose TLS
//! set-up is the machine's. Made once per test binary and shared by its tests:
//!
//! * certificates made with the `openssl` command: a CA, a server certificate it signs for
//!   `localhost` and `127.0.0.1`, another CA that signed nothing here (a wrong root), and a
//!   self-signed server certificate (as `openssl req -x509` makes it: `CA:TRUE`);
//! * one `initdb` (Debian's `postgresql` package, `/usr/lib/postgresql/*/bin`; as the `postgres`
//!   user when the tests run as root), copied into three data directories, each served on a
//!   free loopback port: TLS with the CA-signed certificate, TLS with the self-signed one, and
//!   `ssl = off`. Authentication is `trust` for the user `postgres`.
//!
//! The servers run under one shell that waits on its standard input, a pipe from this process:
//! when the test binary exits, however it exits, the pipe closes and the shell stops the servers
//! and removes the directory.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The private servers and the files the tests point `sslrootcert` at.
pub struct Cluster {
    pub dir: PathBuf,
    /// TLS with a certificate for `localhost` and `127.0.0.1`, signed by [`Cluster::ca`].
    pub tls_port: u16,
    /// TLS with [`Cluster::self_signed`] as its certificate.
    pub self_signed_port: u16,
    /// `ssl = off`: the server refuses TLS.
    pub plain_port: u16,
    /// The servers' shell; its standard input is held open for the life of the process.
    _servers: Child,
}

impl Cluster {
    /// The CA that signed the TLS server's certificate.
    pub fn ca(&self) -> String {
        self.file("ca.crt")
    }
    /// A CA that signed nothing the servers present.
    pub fn other_ca(&self) -> String {
        self.file("other.crt")
    }
    /// The self-signed server's certificate.
    pub fn self_signed(&self) -> String {
        self.file("self.crt")
    }
    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_str().expect("a UTF-8 temporary directory").to_owned()
    }
}

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

/// The newest PostgreSQL server binaries installed by Debian's packages.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries in /usr/lib/postgresql (Debian's postgresql package; scripts/test installs it)")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb under /usr/lib/postgresql/*/bin").1
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `sh -ec script` with `args` as `$1...`, as the `postgres` user when this process is root
/// (initdb and postgres refuse to run as root).
fn shell(script: &str, args: &[&str]) -> Command {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-ec", script, "sh"]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-ec", script, "sh"]);
        c
    };
    command.args(args);
    command
}

/// A port nobody listens on right now (the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Makes the certificates and the data directories in `$1` (the binaries in `$2`).
const PREPARE: &str = r#"
cd "$1"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3"
openssl req -x509 $ec -keyout ca.key -out ca.crt -subj "/CN=audience test CA" 2>>openssl.log
openssl req -x509 $ec -keyout other.key -out other.crt -subj "/CN=audience other CA" 2>>openssl.log
openssl req $ec -keyout server.key -out server.csr -subj "/CN=localhost" 2>>openssl.log
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 -extfile server.ext -out server.crt 2>>openssl.log
openssl req -x509 $ec -keyout self.key -out self.crt -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>>openssl.log
chmod 600 ./*.key
"$2/initdb" -D data -U postgres -A trust -E UTF8 --no-sync >initdb.log 2>&1
cp -a data data-self
cp -a data data-plain
"#;

/// Starts the three servers (`$1` the directory, `$2` the binaries, `$3`..`$5` the ports),
/// waits for its standard input to close, then stops them and removes the directory.
const SERVE: &str = r#"
dir=$1 bin=$2
common="-k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=40 -c shared_buffers=16MB"
"$bin/postgres" -D "$dir/data" -p "$3" $common -c ssl=on \
    -c ssl_cert_file="$dir/server.crt" -c ssl_key_file="$dir/server.key" >"$dir/tls.log" 2>&1 &
a=$!
"$bin/postgres" -D "$dir/data-self" -p "$4" $common -c ssl=on \
    -c ssl_cert_file="$dir/self.crt" -c ssl_key_file="$dir/self.key" >"$dir/self.log" 2>&1 &
b=$!
"$bin/postgres" -D "$dir/data-plain" -p "$5" $common -c ssl=off >"$dir/plain.log" 2>&1 &
c=$!
cat >/dev/null || true
kill -INT $a $b $c 2>/dev/null || true
wait $a $b $c 2>/dev/null || true
rm -rf "$dir"
"#;

fn start() -> Cluster {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("audience-pg-tls-{}", std::process::id()));
    let dir_s = dir.to_str().expect("a UTF-8 temporary directory").to_owned();
    let bin_s = bin.to_str().expect("a UTF-8 path").to_owned();
    // Made by the user the servers run as, so that their keys and data are theirs.
    let prepare =
        shell(&format!("rm -rf \"$1\"; mkdir -m 755 \"$1\"\n{PREPARE}"), &[&dir_s, &bin_s]).output().expect("sh runs");
    assert!(
        prepare.status.success(),
        "preparing the private PostgreSQL failed: {}{}\n{}",
        String::from_utf8_lossy(&prepare.stderr),
        log(&dir, "openssl.log"),
        log(&dir, "initdb.log"),
    );
    let ports = [free_port(), free_port(), free_port()];
    let port_args: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut args = vec![dir_s.as_str(), bin_s.as_str()];
    args.extend(port_args.iter().map(String::as_str));
    let servers =
        shell(SERVE, &args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("sh runs");
    let cluster = Cluster {
        dir: dir.clone(),
        tls_port: ports[0],
        self_signed_port: ports[1],
        plain_port: ports[2],
        _servers: servers,
    };
    for (port, name) in ports.iter().zip(["tls.log", "self.log", "plain.log"]) {
        wait_ready(&bin, *port).unwrap_or_else(|why| panic!("{why}: {}", log(&dir, name)));
    }
    cluster
}

/// Waits until the server on `port` accepts connections (at most a minute: the machine may be
/// busy).
fn wait_ready(bin: &Path, port: u16) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .status()
            .map_err(|e| format!("pg_isready: {e}"))?;
        if ready.success() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("the private PostgreSQL on port {port} did not start"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log(dir: &Path, name: &str) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(dir.join(name)) {
        let _ = f.read_to_string(&mut text);
    }
    text
}
