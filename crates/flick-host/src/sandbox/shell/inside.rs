//! What runs in a sandbox shell (`flick __sandbox`), from its start to the
//! exec of the runtime.
//!
//! A plain single-threaded program, so that it may enter a mount namespace
//! and then become the runtime with an ordinary exec. It reads messages on
//! stdin, each a line of JSON: a [`Setup`], which it carries out before
//! saying "ready" on the status descriptor, then any number of extension
//! starts (each answered on the status descriptor), then the runtime's
//! [`Exec`]. Any failure is
//! reported on the status descriptor and ends the shell; so does the host
//! closing stdin before the exec (a prepared shell that is not needed).

use std::ffi::CString;
use std::io::{BufRead, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;

use super::{
    loop_tmp, Exec, Setup, Started, Step, TmpSetup, EXTENSION_OUTPUT_FD, STATUS_FD, TELEMETRY_FD,
};

/// The size of a sandbox's `/dev/shm`, in MB (its pages count as memory).
const SHM_MB: u64 = 64;

/// Runs the shell; never returns.
pub fn run() -> ! {
    // SAFETY: the host opened this descriptor for the shell (see Shell::prepare)
    // and nothing else in this process uses it.
    let mut status = unsafe { std::fs::File::from_raw_fd(STATUS_FD) };
    let mut stdin = std::io::stdin().lock();
    let failure = match become_runtime(&mut stdin, &mut status) {
        Ok(None) => std::process::exit(0),
        Ok(Some(reason)) | Err(reason) => reason,
    };
    let _ = writeln!(status, "{}", failure.replace('\n', " "));
    std::process::exit(127)
}

/// Sets up, says ready, execs. Returns Ok(None) if the host let the shell go,
/// Ok(Some(reason)) if the exec failed, Err on a failed setup.
fn become_runtime(
    stdin: &mut impl BufRead,
    status: &mut std::fs::File,
) -> Result<Option<String>, String> {
    let Some(setup) = read_message::<Setup>(stdin)? else {
        return Ok(None);
    };
    apply(&setup)?;
    writeln!(status, "ready").map_err(|e| format!("cannot report: {e}"))?;
    let exec = loop {
        match read_message::<Step>(stdin)? {
            None => return Ok(None),
            Some(Step::Runtime(exec)) => break exec.into_owned(),
            Some(Step::Extensions(extensions)) => {
                let started: Vec<Started> = extensions.iter().map(start_extension).collect();
                let report = serde_json::to_string(&started).map_err(|e| e.to_string())?;
                writeln!(status, "{report}").map_err(|e| format!("cannot report: {e}"))?;
            }
        }
    };
    // A successful exec closes the status descriptor: that is the host's
    // "done". The extensions' output is theirs alone.
    set_cloexec(STATUS_FD)?;
    set_cloexec(EXTENSION_OUTPUT_FD)?;
    // Set last, as changing credentials would clear it; exec keeps it.
    // SAFETY: prctl with these arguments has no memory effects.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let Some((program, args)) = exec.argv.split_first() else {
        return Ok(Some("empty command".into()));
    };
    // Apart from the exec, so that a folder the sandbox's user may not enter
    // is named as such, not taken for the program.
    if let Err(e) = std::env::set_current_dir(&exec.cwd) {
        return Ok(Some(format!(
            "chdir {}: {}",
            exec.cwd.display(),
            errno_text(&e)
        )));
    }
    let error = std::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(&exec.env)
        .stdin(std::process::Stdio::null())
        .exec();
    Ok(Some(errno_text(&error)))
}

/// Starts one extension as a child of the host (`CLONE_PARENT`), in a
/// process group of its own, writing to the extensions' output pipe and
/// holding none of the shell's other descriptors; waits until its exec
/// succeeded or failed.
fn start_extension(exec: &Exec) -> Started {
    let program = exec.argv.first().cloned().unwrap_or_default();
    let failed = |pid: u32, reason: String| Started {
        pid,
        error: Some(format!("fork/exec {program}: {reason}")),
    };
    let prepared = match ExecArgs::new(exec) {
        Ok(p) => p,
        Err(reason) => return failed(0, reason),
    };
    let mut pipe = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array; open takes a C string.
    let devnull = unsafe {
        if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return failed(0, std::io::Error::last_os_error().to_string());
        }
        libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC)
    };
    if devnull < 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: closing the pipe just made.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
        return failed(0, format!("cannot open /dev/null: {e}"));
    }
    let pid = clone_and_exec(&prepared, devnull, pipe[1]);
    // SAFETY: closing our copies; reading into a 4-byte buffer.
    let (n, errno) = unsafe {
        libc::close(pipe[1]);
        libc::close(devnull);
        let mut errno = 0i32;
        let n = loop {
            let n = libc::read(pipe[0], (&mut errno as *mut i32).cast(), 4);
            if n >= 0 || *libc::__errno_location() != libc::EINTR {
                break n;
            }
        };
        libc::close(pipe[0]);
        (n, errno)
    };
    match (pid, n) {
        (pid, _) if pid <= 0 => failed(0, std::io::Error::last_os_error().to_string()),
        // The exec closed the pipe without a word.
        (pid, 0) => Started {
            pid: pid as u32,
            error: None,
        },
        (pid, 4) => failed(
            pid as u32,
            errno_text(&std::io::Error::from_raw_os_error(errno)),
        ),
        (pid, _) => {
            // Its fate is unknown: it must not run unwatched.
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            failed(pid as u32, "cannot learn whether the exec succeeded".into())
        }
    }
}

/// An extension's exec, made ready before the clone: after it, the child
/// may only make async-signal-safe calls, which allocating is not.
struct ExecArgs {
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
}

impl ExecArgs {
    fn new(exec: &Exec) -> Result<ExecArgs, String> {
        let c = |s: &str| CString::new(s).map_err(|_| "NUL in an argument".to_string());
        Ok(ExecArgs {
            argv: exec.argv.iter().map(|a| c(a)).collect::<Result<_, _>>()?,
            envp: exec
                .env
                .iter()
                .map(|(k, v)| c(&format!("{k}={v}")))
                .collect::<Result<_, _>>()?,
            cwd: c(&exec.cwd.to_string_lossy())?,
        })
    }
}

/// Clones the shell into a child of its parent that execs `args`, and
/// reports a failed exec's errno on `report`; returns the child's pid (or
/// -1). The child's stdin is `devnull`, its output the extensions' pipe.
fn clone_and_exec(args: &ExecArgs, devnull: i32, report: i32) -> i64 {
    let null_terminated = |v: &[CString]| {
        let mut p: Vec<*const libc::c_char> = v.iter().map(|s| s.as_ptr()).collect();
        p.push(std::ptr::null());
        p
    };
    let (argv, envp) = (null_terminated(&args.argv), null_terminated(&args.envp));
    // SAFETY: a fork-like clone (no new stack) of a single-threaded process;
    // the child only calls async-signal-safe functions on memory made
    // before the clone, then execs or exits.
    unsafe {
        let pid = libc::syscall(
            libc::SYS_clone,
            libc::CLONE_PARENT | libc::SIGCHLD,
            0,
            0,
            0,
            0,
        );
        if pid != 0 {
            return pid;
        }
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::dup2(devnull, 0);
        libc::dup2(EXTENSION_OUTPUT_FD, 1);
        libc::dup2(EXTENSION_OUTPUT_FD, 2);
        for fd in [TELEMETRY_FD, STATUS_FD, EXTENSION_OUTPUT_FD] {
            libc::close(fd);
        }
        if libc::chdir(args.cwd.as_ptr()) == 0 {
            libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
        }
        let errno = *libc::__errno_location();
        libc::write(report, (&errno as *const i32).cast(), 4);
        libc::_exit(127);
    }
}

fn read_message<T: serde::de::DeserializeOwned>(
    stdin: &mut impl BufRead,
) -> Result<Option<T>, String> {
    let mut line = String::new();
    match stdin.read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| format!("bad message from the host: {e}")),
        Err(e) => Err(format!("cannot read from the host: {e}")),
    }
}

fn apply(setup: &Setup) -> Result<(), String> {
    limits(setup)?;
    if setup.own_network {
        own_network()?;
    }
    let private = !matches!(setup.tmp, TmpSetup::Shared);
    if private {
        private_mounts()?;
        // Opened in the new namespace (a bind's source must be in it) and
        // before the /tmp that may hide the host's state folder.
        let binds = open_sources(&setup.binds)?;
        // Before /tmp is hidden: a layer's folder may lie under it.
        layers_at_opt(&setup.layers)?;
        private_tmp(setup)?;
        private_scratch()?;
        for (source, bind) in binds.iter().zip(&setup.binds) {
            bind_read_only(source, &bind.target)?;
        }
        if let Some(view) = setup.cgroup_view {
            own_cgroup_view(view);
        }
        if setup.user.is_some() {
            // Other users' processes (the host, other sandboxes) vanish from /proc.
            mount(
                Some("proc"),
                "/proc",
                Some("proc"),
                Some("hidepid=invisible"),
                libc::MS_NOEXEC,
            )?;
        }
    }
    if let Some(uid) = setup.user {
        become_user(uid)?;
    }
    Ok(())
}

fn limits(setup: &Setup) -> Result<(), String> {
    if let Some(procs) = &setup.cgroup_procs {
        std::fs::write(procs, "0")
            .map_err(|e| format!("cannot join the memory cgroup {}: {e}", procs.display()))?;
    }
    if let Some(bytes) = setup.rlimit_as {
        let lim = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: bytes,
        };
        // SAFETY: setrlimit reads a valid struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// A `/tmp` of the sandbox's own, over which the function's own folders
/// under `/tmp` stay visible.
fn private_tmp(setup: &Setup) -> Result<(), String> {
    // Held open across the mount that hides them, to be mounted back.
    let kept = setup
        .keep
        .iter()
        .map(|path| {
            std::fs::File::open(path)
                .map(|f| (path, f))
                .map_err(|e| format!("cannot open {}: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match &setup.tmp {
        TmpSetup::Shared => unreachable!("only a private /tmp is made here"),
        TmpSetup::Tmpfs { size_mb } => {
            let options = format!("size={size_mb}m,mode=1777");
            mount(Some("tmpfs"), "/tmp", Some("tmpfs"), Some(&options), 0)?;
        }
        TmpSetup::Loop { template, scratch } => {
            let device = loop_tmp::attach(template, scratch)?;
            let source = device.path.to_string_lossy();
            mount(Some(&source), "/tmp", Some("ext4"), None, 0)?;
            chmod_sticky_world("/tmp")?;
        }
    }
    for (path, folder) in kept {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(path)
            .map_err(|e| format!("cannot recreate {}: {e}", path.display()))?;
        let source = format!("/proc/self/fd/{}", folder.as_raw_fd());
        mount(
            Some(&source),
            &path.to_string_lossy(),
            None,
            None,
            libc::MS_BIND,
        )?;
    }
    Ok(())
}

/// The other places processes share files through: `/var/tmp` is the
/// sandbox's `/tmp` again, and `/dev/shm` a small memory file system of its own.
fn private_scratch() -> Result<(), String> {
    if Path::new("/var/tmp").is_dir() {
        mount(Some("/tmp"), "/var/tmp", None, None, libc::MS_BIND)?;
    }
    if Path::new("/dev/shm").is_dir() {
        let options = format!("size={SHM_MB}m,mode=1777");
        mount(Some("tmpfs"), "/dev/shm", Some("tmpfs"), Some(&options), 0)?;
    }
    Ok(())
}

/// The layers merged read-only at `/opt`, later ones over earlier ones (an
/// overlay's first lower folder is its top); no layers, an empty `/opt`.
fn layers_at_opt(layers: &[std::path::PathBuf]) -> Result<(), String> {
    use crate::layers::OPT;
    match layers {
        [] if Path::new(OPT).is_dir() => mount(
            Some("tmpfs"),
            OPT,
            Some("tmpfs"),
            Some("size=4k,mode=755"),
            libc::MS_RDONLY,
        ),
        [] => Ok(()),
        [one] => {
            let folder = std::fs::File::open(one)
                .map_err(|e| format!("cannot open layer {}: {e}", one.display()))?;
            bind_read_only(&folder, Path::new(OPT))
        }
        many => {
            let lower: Vec<String> = many
                .iter()
                .rev()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let options = format!("lowerdir={}", lower.join(":"));
            mount(
                Some("overlay"),
                OPT,
                Some("overlay"),
                Some(&options),
                libc::MS_RDONLY,
            )
        }
    }
}

fn open_sources(binds: &[super::Bind]) -> Result<Vec<std::fs::File>, String> {
    binds
        .iter()
        .map(|b| {
            std::fs::File::open(&b.source)
                .map_err(|e| format!("cannot open {}: {e}", b.source.display()))
        })
        .collect()
}

/// Shows the open file `source` read-only at `target`.
fn bind_read_only(source: &std::fs::File, target: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let source = format!("/proc/self/fd/{}", source.as_raw_fd());
    let target = target.to_string_lossy();
    mount(Some(&source), &target, None, None, libc::MS_BIND)?;
    // A bind mount takes the read-only flag only when remounted.
    mount(
        None,
        &target,
        None,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
    )
}

/// Shows the sandbox its own memory cgroup (as the hierarchy's root, with
/// its own limit, which JVMs and Node.js read to size themselves) and
/// nothing of the others, whose process lists would give their pids away.
/// A kernel that refuses leaves the host's view, hidden.
fn own_cgroup_view(view: super::CgroupView) {
    // SAFETY: unshare has no memory-safety preconditions; the shell is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0 {
        return;
    }
    let hidden = mount(
        Some("tmpfs"),
        "/sys/fs/cgroup",
        Some("tmpfs"),
        Some("mode=755"),
        libc::MS_NOEXEC,
    );
    if hidden.is_err() {
        return;
    }
    let _ = match view {
        super::CgroupView::V1 => std::fs::create_dir("/sys/fs/cgroup/memory")
            .map_err(|e| e.to_string())
            .and_then(|()| {
                mount(
                    Some("cgroup"),
                    "/sys/fs/cgroup/memory",
                    Some("cgroup"),
                    Some("memory"),
                    libc::MS_NOEXEC,
                )
            }),
        super::CgroupView::V2 => mount(
            Some("cgroup2"),
            "/sys/fs/cgroup",
            Some("cgroup2"),
            None,
            libc::MS_NOEXEC,
        ),
    };
}

/// A network namespace of the shell's own, with loopback up.
fn own_network() -> Result<(), String> {
    // SAFETY: unshare has no memory-safety preconditions; the shell is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "cannot enter a network namespace: {}",
            std::io::Error::last_os_error()
        ));
    }
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")
        .map_err(|e| format!("cannot open a socket to bring loopback up: {e}"))?;
    // SAFETY: an all-zero ifreq is valid; the name fits its 16 bytes.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags =
        (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } != 0 {
        return Err(format!(
            "cannot bring loopback up: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Drops every privilege: no supplementary groups, then the gid, then the uid.
fn become_user(uid: u32) -> Result<(), String> {
    let failed = |what: &str| {
        format!(
            "cannot become user {uid} ({what}): {}",
            std::io::Error::last_os_error()
        )
    };
    // SAFETY: plain credential system calls; the shell is single-threaded.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(failed("setgroups"));
        }
        if libc::setresgid(uid, uid, uid) != 0 {
            return Err(failed("setresgid"));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(failed("setresuid"));
        }
    }
    Ok(())
}

/// A mount namespace of the shell's own, where nothing it mounts is seen
/// by the host or other sandboxes, and which the kernel tears down (mounts,
/// loop device) when the sandbox's last process is gone.
fn private_mounts() -> Result<(), String> {
    // SAFETY: unshare has no memory-safety preconditions; the shell is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!(
            "cannot enter a mount namespace: {}",
            std::io::Error::last_os_error()
        ));
    }
    let root = CString::new("/").expect("no NUL");
    // SAFETY: valid C strings; null source/type/data are allowed for a propagation change.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "cannot make mounts private: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    data: Option<&str>,
    flags: libc::c_ulong,
) -> Result<(), String> {
    let c = |s: &str| CString::new(s).map_err(|_| format!("NUL in {s:?}"));
    let source = source.map(c).transpose()?;
    let fstype = fstype.map(c).transpose()?;
    let data = data.map(c).transpose()?;
    let target_c = c(target)?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is a valid C string or null, as mount(2) allows.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            libc::MS_NOSUID | libc::MS_NODEV | flags,
            ptr(&data).cast(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "cannot mount {target}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn chmod_sticky_world(path: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(Path::new(path), std::fs::Permissions::from_mode(0o1777))
        .map_err(|e| format!("cannot open up {path}: {e}"))
}

fn set_cloexec(fd: i32) -> Result<(), String> {
    // SAFETY: fcntl on a descriptor number, no pointers.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    if rc != 0 {
        return Err(format!("fcntl: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// How Go's os/exec words an exec failure, which is what Lambda's
/// `Runtime.InvalidEntrypoint` messages carry.
fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::ENOEXEC) => "exec format error".into(),
        _ => e.to_string(),
    }
}
