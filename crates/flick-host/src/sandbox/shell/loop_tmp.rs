//! A private `/tmp` on a loop device: a fresh copy of an empty ext4 image,
//! attached to a free loop device that clears itself once unmounted.
//!
//! Runs inside the sandbox shell. The image is unlinked as soon as the loop
//! device holds it, so nothing is left on disk after the sandbox, however it
//! ends. Linux's loop ioctls are not in the libc crate; their numbers and
//! the `loop_config` layout come from `linux/loop.h`.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LOOP_MAJOR: u32 = 7;
/// Attempts at a free device: another shell may take the one we were told of.
const ATTEMPTS: usize = 32;

#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    size_limit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// An attached loop device; the open descriptor keeps it until mounted.
pub struct LoopDevice {
    pub path: PathBuf,
    _file: File,
}

/// Copies `template` into `scratch` and attaches the copy to a free loop device.
pub fn attach(template: &Path, scratch: &Path) -> Result<LoopDevice, String> {
    let image_path = scratch.join(format!("tmp-{}.img", std::process::id()));
    copy_sparse(template, &image_path)
        .map_err(|e| format!("cannot copy {}: {e}", template.display()))?;
    let attached = open_and_attach(&image_path);
    // The loop device holds the image open; its name is no longer needed.
    let _ = std::fs::remove_file(&image_path);
    attached
}

fn open_and_attach(image_path: &Path) -> Result<LoopDevice, String> {
    let image = OpenOptions::new()
        .read(true)
        .write(true)
        .open(image_path)
        .map_err(|e| format!("cannot open {}: {e}", image_path.display()))?;
    let control = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(|e| format!("cannot open /dev/loop-control: {e}"))?;
    let mut config = LoopConfig {
        fd: image.as_raw_fd() as u32,
        block_size: 0,
        // SAFETY: an all-zero loop_info64 is the kernel's "no options".
        info: unsafe { std::mem::zeroed() },
        reserved: [0; 8],
    };
    config.info.flags = LO_FLAGS_AUTOCLEAR;
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        // SAFETY: an ioctl without an argument on the control device.
        let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if n < 0 {
            return Err(format!(
                "no free loop device: {}",
                std::io::Error::last_os_error()
            ));
        }
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let device = match open_device(&path, n as u32) {
            Ok(d) => d,
            Err(e) => {
                last = format!("cannot open {}: {e}", path.display());
                continue;
            }
        };
        // SAFETY: config is a valid loop_config that outlives the call.
        let rc = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, &config) };
        if rc == 0 {
            return Ok(LoopDevice {
                path,
                _file: device,
            });
        }
        last = format!(
            "cannot configure {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
    Err(last)
}

/// Opens `/dev/loopN`, making its node first where no devtmpfs did.
fn open_device(path: &Path, n: u32) -> std::io::Result<File> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: a valid C string; mknod has no other preconditions.
            let rc = unsafe {
                libc::mknod(
                    c.as_ptr(),
                    libc::S_IFBLK | 0o600,
                    libc::makedev(LOOP_MAJOR, n),
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            open()
        }
        other => other,
    }
}

/// Copies only the data extents: the template is an empty file system whose
/// hundreds of megabytes are holes but for a few hundred kilobytes.
fn copy_sparse(from: &Path, to: &Path) -> std::io::Result<()> {
    let src = File::open(from)?;
    let len = src.metadata()?.len();
    let dst = OpenOptions::new().write(true).create_new(true).open(to)?;
    dst.set_len(len)?;
    let mut offset: i64 = 0;
    loop {
        // SAFETY: lseek on an open descriptor.
        let data = unsafe { libc::lseek(src.as_raw_fd(), offset, libc::SEEK_DATA) };
        if data < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                return Ok(());
            }
            return Err(e);
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(src.as_raw_fd(), data, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (mut off_in, mut off_out) = (data, data);
        while off_in < hole {
            // SAFETY: both descriptors are open and the offsets are valid pointers.
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    &mut off_in,
                    dst.as_raw_fd(),
                    &mut off_out,
                    (hole - off_in) as usize,
                    0,
                )
            };
            if n <= 0 {
                return Err(if n == 0 {
                    std::io::Error::other("the template ended early")
                } else {
                    std::io::Error::last_os_error()
                });
            }
        }
        offset = hole;
    }
}
