//! Files only the service's own user may read: the database, the signing and CSRF keys.
//! Created private whatever the umask, and tightened at start if an older install (or a
//! careless copy) left them readable by others.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700 where it does not exist yet.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir)
}

/// Writes a secret file with mode 0600 via a temporary name and an atomic rename; refuses to
/// overwrite an existing file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut suffix = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut suffix);
    let tmp = path.with_extension(format!(
        "tmp-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        // hard_link fails if the target exists, so two instances racing never overwrite a key.
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// A warning that must not be lost: files are checked while the server starts, before
/// Rocket has installed its logger (and the CLI has none), when `log` would drop it.
fn warn_now(message: &str) {
    if log::max_level() == log::LevelFilter::Off {
        eprintln!("gatehouse: warning: {message}");
    } else {
        log::warn!("{message}");
    }
}

/// Takes group and other permissions off a secret file that has them (an install made before
/// files were created private, or a careless copy), and logs that it did. A file that is not
/// there is fine; one that cannot be changed (another owner) is logged and left alone.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            let private = mode & 0o700;
            warn_now(
                &match fs::set_permissions(path, fs::Permissions::from_mode(private)) {
                    Ok(()) => format!(
                        "{} was readable by other users (mode {mode:o}); it is now {private:o}",
                        path.display()
                    ),
                    Err(e) => format!(
                        "{} is readable by other users (mode {mode:o}) and cannot be made private \
                     ({e}); run: chmod 600 {}",
                        path.display(),
                        path.display()
                    ),
                },
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Why a secret file could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is malformed (expected at least {len} bytes in base64); restore it from a backup or move it away deliberately")]
    Malformed {
        path: std::path::PathBuf,
        len: usize,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the system's random number generator failed")]
    Generate,
}

/// The secret in `dir/name` (base64 of `len` random bytes), made on first use and reused; made
/// private if an older install left it readable. Instances sharing `dir` share it: one that
/// loses the race to create it reads the winner's.
pub fn load_or_create_secret(dir: &Path, name: &str, len: usize) -> Result<Vec<u8>, SecretError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let path = dir.join(name);
    if !path.exists() {
        create_private_dir(dir).map_err(|source| SecretError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut secret = vec![0u8; len];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| SecretError::Generate)?;
        match write_private_file(&path, format!("{}\n", STANDARD.encode(&secret)).as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(SecretError::Write { path, source }),
        }
    }
    if let Err(e) = make_private(&path) {
        log::warn!("cannot check {}'s permissions: {e}", path.display());
    }
    let text = fs::read_to_string(&path).map_err(|source| SecretError::Read {
        path: path.clone(),
        source,
    })?;
    STANDARD
        .decode(text.trim())
        .ok()
        .filter(|s| s.len() >= len)
        .ok_or(SecretError::Malformed { path, len })
}
