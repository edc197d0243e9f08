//! The host confining itself with Landlock, as defence in depth.
//!
//! The sandbox is how a module runs; this is the host process restricting
//! *itself*. Once a command knows every path it needs, it asks the kernel
//! to refuse it everything else: a host bug that would write through a
//! planted link, or a path string gone wrong, then fails with `EACCES`
//! instead of touching a file outside the build. The tree writer is the
//! first line; this is the second, and it does not depend on the first
//! being right.
//!
//! Landlock restricts the calling thread and every thread and process it
//! starts afterwards. Threads already running keep their rights (unless the
//! kernel has ABI 8, which can restrict every thread at once), so
//! [`Confinement::apply`] must run before a command starts its worker
//! threads and thread pools. A kernel without Landlock is not an error: the
//! command goes on unconfined and [`Enforcement`] says why.

use std::fmt;
use std::io;
use std::path::PathBuf;

use landlock::{
    ABI, Access as _, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, LandlockStatus, PathBeneath, PathFd,
    RestrictSelfAttr, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// The environment variable that turns confinement off (`off`), for a
/// kernel or filesystem where Landlock misbehaves. The operator's choice.
pub const ENV: &str = "SEALBOX_LANDLOCK";

/// The newest Landlock ABI whose rights sealbox asks for and was tested
/// with; a kernel with an older one enforces what it knows.
const TARGET_ABI: ABI = ABI::V8;

/// What a path is opened to, beneath it (a rule on a directory covers the
/// whole tree under it; on a file, that file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read files and list directories.
    Read,
    /// Read, and create, write, truncate and replace regular files: what
    /// writing one file atomically beside others needs (temp file, then
    /// rename over the target). No directories, links or special files.
    ReplaceFiles,
    /// Read and write anything but special files: create and remove files,
    /// directories and symlinks, rename and truncate. Never execute, never
    /// create devices, fifos or sockets.
    ReadWrite,
    /// Only remove empty directories: what removing a private directory
    /// made inside a shared one (the system temp dir) needs when done.
    RemoveEmptyDirs,
}

impl Access {
    fn rights(self) -> BitFlags<AccessFs> {
        let read = AccessFs::ReadFile | AccessFs::ReadDir;
        let files = read | AccessFs::MakeReg | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::RemoveFile;
        match self {
            Access::Read => read,
            Access::ReplaceFiles => files,
            Access::ReadWrite => files | AccessFs::MakeDir | AccessFs::RemoveDir | AccessFs::MakeSym | AccessFs::Refer,
            Access::RemoveEmptyDirs => AccessFs::RemoveDir.into(),
        }
    }
}

/// What the process needs of the system after confinement, read-only:
/// shared libraries (glibc loads its name-service modules while resolving a
/// registry's name), the name-service and TLS configuration, its own
/// `/proc` entry and the cgroup limits (how many threads to start).
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/ssl",
    "/etc/pki",
    "/etc/ca-certificates",
    "/etc/localtime",
    "/proc/self",
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu",
    "/dev/urandom",
];

/// A set of paths a process may still use, and how; everything else on the
/// filesystem is refused once it is applied.
///
/// [`Confinement::new`] allows nothing: no file may be read, written or
/// executed, no TCP port bound, no signal sent and no abstract socket
/// reached outside the confined process. Outgoing TCP connections stay
/// allowed (a build may talk to a registry) unless
/// [`deny_tcp_connect`](Confinement::deny_tcp_connect) is called.
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    paths: Vec<(PathBuf, Access)>,
    deny_connect: bool,
    this_thread_only: bool,
}

impl Confinement {
    /// A confinement allowing nothing on the filesystem (see the type).
    pub fn new() -> Confinement {
        Confinement::default()
    }

    /// Allows `access` beneath `path` (a directory) or to `path` (a file).
    /// A path that does not exist when the confinement is applied is left
    /// out: nothing can be read there, and nothing may be created there.
    pub fn allow(mut self, path: impl Into<PathBuf>, access: Access) -> Confinement {
        self.paths.push((path.into(), access));
        self
    }

    /// Allows reading beneath `path`.
    pub fn read(self, path: impl Into<PathBuf>) -> Confinement {
        self.allow(path, Access::Read)
    }

    /// Allows reading and writing beneath `path`.
    pub fn read_write(self, path: impl Into<PathBuf>) -> Confinement {
        self.allow(path, Access::ReadWrite)
    }

    /// Allows what any sealbox command needs of the system: reading the
    /// paths in [`SYSTEM_READ`] that exist, reading and writing `/dev/null`.
    pub fn system(mut self) -> Confinement {
        for p in SYSTEM_READ {
            self = self.read(*p);
        }
        self.allow("/dev/null", Access::ReplaceFiles)
    }

    /// Also refuses outgoing TCP connections, for a command that never
    /// talks to the network.
    pub fn deny_tcp_connect(mut self) -> Confinement {
        self.deny_connect = true;
        self
    }

    /// Confines only the calling thread and the threads it starts, even on
    /// a kernel that could confine every thread of the process (tests use
    /// this to confine one thread of the test harness).
    pub fn this_thread_only(mut self) -> Confinement {
        self.this_thread_only = true;
        self
    }

    /// Restricts the calling thread (and, with Landlock ABI 8, every thread
    /// of the process) to the allowed paths, for good: nothing can lift
    /// it. Returns what the kernel enforced. `SEALBOX_LANDLOCK=off` and a
    /// kernel without Landlock give [`Enforcement::NotEnforced`]; an error
    /// is a path that exists but cannot be opened, or a failed system call.
    pub fn apply(self) -> Result<Enforcement, Error> {
        if std::env::var_os(ENV).is_some_and(|v| v == "off") {
            return Ok(Enforcement::NotEnforced(format!("turned off by {ENV}=off")));
        }
        let landlock = |source| Error::Landlock { source };
        let mut net: BitFlags<AccessNet> = AccessNet::BindTcp.into();
        if self.deny_connect {
            net |= AccessNet::ConnectTcp;
        }
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(TARGET_ABI))
            .map_err(landlock)?
            .handle_access(net)
            .map_err(landlock)?
            .scope(Scope::from_all(TARGET_ABI))
            .map_err(landlock)?
            .create()
            .map_err(landlock)?;
        for (path, access) in &self.paths {
            let fd = match PathFd::new(path) {
                Ok(fd) => fd,
                Err(landlock::PathFdError::OpenCall { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                    continue;
                }
                Err(e) => return Err(Error::Path { path: path.clone(), source: io::Error::other(e) }),
            };
            let mut rights = access.rights();
            // Directory rights on a file are invalid; keep the file ones.
            let stat = rustix::fs::fstat(&fd).map_err(|e| Error::Path { path: path.clone(), source: e.into() })?;
            if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Directory {
                rights &= AccessFs::from_file(TARGET_ABI);
            }
            if rights.is_empty() {
                continue;
            }
            ruleset = ruleset.add_rule(PathBeneath::new(fd, rights)).map_err(landlock)?;
        }
        if !self.this_thread_only {
            ruleset = ruleset.all_threads(true).map_err(landlock)?;
        }
        let earlier_threads = other_threads();
        let status = ruleset.restrict_self().map_err(landlock)?;
        let abi = match status.landlock {
            LandlockStatus::Available { effective_abi, kernel_abi } => kernel_abi.unwrap_or(effective_abi as i32),
            LandlockStatus::NotEnabled => {
                return Ok(Enforcement::NotEnforced("the kernel has Landlock but it is not enabled".into()));
            }
            LandlockStatus::NotImplemented => {
                return Ok(Enforcement::NotEnforced("the kernel has no Landlock".into()));
            }
        };
        Ok(match status.ruleset {
            RulesetStatus::NotEnforced => {
                Enforcement::NotEnforced(format!("kernel Landlock ABI {abi} supports none of the rules"))
            }
            RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Enforcement::Enforced {
                abi,
                complete: status.ruleset == RulesetStatus::FullyEnforced,
                unconfined_threads: if status.all_threads { 0 } else { earlier_threads },
            },
        })
    }
}

/// How many threads of this process besides the caller exist (0 when it
/// cannot be told).
fn other_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count().saturating_sub(1)).unwrap_or(0)
}

/// What [`Confinement::apply`] achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// The kernel enforces the rules.
    Enforced {
        /// The kernel's Landlock ABI version.
        abi: i32,
        /// Every right asked for is enforced; `false` when the kernel's ABI
        /// is older than the one sealbox asks for and some newer rights
        /// (or the restriction of earlier threads) are left out.
        complete: bool,
        /// Threads started before the confinement that keep their rights.
        unconfined_threads: usize,
    },
    /// Nothing is enforced, for this reason.
    NotEnforced(String),
}

impl Enforcement {
    /// Whether any rule is enforced.
    pub fn is_enforced(&self) -> bool {
        matches!(self, Enforcement::Enforced { .. })
    }
}

impl fmt::Display for Enforcement {
    /// One line for `--verbose`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Enforcement::Enforced { abi, complete, unconfined_threads } => {
                write!(f, "landlock: enforced")?;
                if *complete {
                    write!(f, " (kernel ABI {abi})")?;
                } else {
                    write!(f, " as far as kernel ABI {abi} allows (sealbox asks for ABI {})", TARGET_ABI as i32)?;
                }
                match unconfined_threads {
                    0 => Ok(()),
                    1 => write!(f, "; 1 thread started before it keeps its rights"),
                    n => write!(f, "; {n} threads started before it keep their rights"),
                }
            }
            Enforcement::NotEnforced(reason) => write!(f, "landlock: not enforced: {reason}"),
        }
    }
}

/// Why a confinement could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path to allow exists but could not be opened or examined.
    #[error("landlock: cannot allow {}: {source}", path.display())]
    Path { path: PathBuf, source: io::Error },
    /// The kernel refused the ruleset or the restriction.
    #[error("landlock: {source} (set {ENV}=off to run without it)")]
    Landlock { source: landlock::RulesetError },
}

/// Makes a private directory in the system temp dir and makes it the
/// default for every temp file and directory this process creates after
/// (through `tempfile`), so that a confinement can grant writes beneath it
/// instead of the whole, shared, temp dir. The directory is removed when
/// the returned handle is dropped; grant [`Access::RemoveEmptyDirs`] on its
/// parent for that to work under confinement.
pub fn private_temp_dir() -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("sealbox-").tempdir()?;
    // The first call wins; a second one (never made by the CLI, which runs
    // one command per process) would leave the first directory in force.
    let _ = tempfile::env::override_temp_dir(dir.path());
    Ok(dir)
}

/// The test hook that proves confinement holds against a host bug: in a
/// debug build, `SEALBOX_TEST_BROKEN_WRITER=PATH[:PATH…]` makes the host
/// try to create each PATH, as a broken writer would, from the calling
/// thread, a new thread and the thread pool. Every attempt failing is an
/// error naming them (the build stops there); any attempt succeeding lets
/// the command go on, for the test to find the file.
#[cfg(debug_assertions)]
pub fn broken_writer_hook() -> Result<(), String> {
    let Some(paths) = std::env::var_os("SEALBOX_TEST_BROKEN_WRITER") else { return Ok(()) };
    let write = |path: &std::path::Path| std::fs::write(path, b"written by the broken-writer test hook\n");
    let mut refused = Vec::new();
    for path in std::env::split_paths(&paths) {
        let attempts = [
            write(&path),
            std::thread::scope(|s| s.spawn(|| write(&path)).join()).unwrap_or(Ok(())),
            rayon::join(|| write(&path), || ()).0,
        ];
        match attempts.iter().find_map(|a| a.as_ref().err()) {
            Some(e) if attempts.iter().all(Result::is_err) => refused.push(format!("{}: {e}", path.display())),
            // A write went through: let the caller's test find the file.
            _ => return Ok(()),
        }
    }
    Err(format!("test hook: the broken writer could not write {}", refused.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of its own, confined by `confinement`: other
    /// test threads keep their rights.
    fn confined<T: Send>(confinement: Confinement, f: impl FnOnce(&Enforcement) -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                let enforcement = confinement.this_thread_only().apply().expect("apply");
                assert!(enforcement.is_enforced(), "this test needs a kernel with Landlock: {enforcement}");
                f(&enforcement)
            })
            .join()
            .expect("confined thread")
        })
    }

    #[test]
    fn writes_outside_the_allowed_dirs_are_refused_and_other_threads_are_untouched() {
        let allowed = tempfile::tempdir().expect("allowed");
        let outside = tempfile::tempdir().expect("outside");
        let readable = tempfile::tempdir().expect("readable");
        std::fs::write(readable.path().join("r.txt"), "r").expect("write");
        let c = Confinement::new().read_write(allowed.path()).read(readable.path());
        confined(c, |_| {
            std::fs::write(allowed.path().join("in.txt"), "ok").expect("inside: allowed");
            std::fs::create_dir(allowed.path().join("sub")).expect("mkdir inside");
            let e = std::fs::write(outside.path().join("out.txt"), "no").expect_err("outside: refused");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            assert_eq!(std::fs::read_to_string(readable.path().join("r.txt")).expect("read-only: read"), "r");
            let e = std::fs::write(readable.path().join("w.txt"), "no").expect_err("read-only: no write");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            let e = std::fs::read_dir(outside.path()).expect_err("outside: not even listed");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            // A thread started after the confinement inherits it.
            let child = std::thread::spawn({
                let p = outside.path().join("child.txt");
                move || std::fs::write(p, "no")
            });
            assert!(child.join().expect("child").is_err(), "a new thread is confined too");
        });
        assert!(!outside.path().join("out.txt").exists());
        assert!(!outside.path().join("child.txt").exists());
        // This thread was never confined.
        std::fs::write(outside.path().join("free.txt"), "ok").expect("unconfined thread writes");
    }

    #[test]
    fn a_link_inside_the_allowed_dir_does_not_lead_out() {
        let allowed = tempfile::tempdir().expect("allowed");
        let outside = tempfile::tempdir().expect("outside");
        std::os::unix::fs::symlink(outside.path(), allowed.path().join("out")).expect("link");
        confined(Confinement::new().read_write(allowed.path()), |_| {
            let e = std::fs::write(allowed.path().join("out/victim"), "no").expect_err("through the link");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        });
        assert!(!outside.path().join("victim").exists());
    }

    #[test]
    fn replace_files_allows_an_atomic_replace_but_no_directory() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("lock"), "old").expect("write");
        confined(Confinement::new().allow(dir.path(), Access::ReplaceFiles), |_| {
            let mut tmp = tempfile::NamedTempFile::new_in(dir.path()).expect("temp file");
            io::Write::write_all(&mut tmp, b"new").expect("write temp");
            tmp.persist(dir.path().join("lock")).expect("rename over");
            let e = std::fs::create_dir(dir.path().join("d")).expect_err("no mkdir");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        });
        assert_eq!(std::fs::read_to_string(dir.path().join("lock")).expect("read"), "new");
    }

    #[test]
    fn a_file_rule_and_a_missing_path_are_accepted() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("f");
        std::fs::write(&file, "f").expect("write");
        let c = Confinement::new().read_write(&file).read(dir.path().join("missing")).system();
        confined(c, |_| {
            std::fs::write(&file, "g").expect("the file itself is writable");
            let e = std::fs::write(dir.path().join("other"), "no").expect_err("its directory is not");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            std::fs::write("/dev/null", "x").expect("/dev/null stays writable");
        });
    }

    #[test]
    fn tcp_bind_is_refused_and_connect_only_when_asked() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        confined(Confinement::new(), |_| {
            let e = std::net::TcpListener::bind("127.0.0.1:0").expect_err("bind refused");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            std::net::TcpStream::connect(addr).expect("connect allowed");
        });
        confined(Confinement::new().deny_tcp_connect(), |_| {
            let e = std::net::TcpStream::connect(addr).expect_err("connect refused");
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        });
    }

    #[test]
    fn the_verbose_line_says_what_was_enforced() {
        let full = Enforcement::Enforced { abi: 8, complete: true, unconfined_threads: 0 };
        assert_eq!(full.to_string(), "landlock: enforced (kernel ABI 8)");
        let partial = Enforcement::Enforced { abi: 7, complete: false, unconfined_threads: 1 };
        assert_eq!(
            partial.to_string(),
            "landlock: enforced as far as kernel ABI 7 allows (sealbox asks for ABI 8); \
             1 thread started before it keeps its rights"
        );
        let off = Enforcement::NotEnforced("the kernel has no Landlock".into());
        assert_eq!(off.to_string(), "landlock: not enforced: the kernel has no Landlock");
    }
}
