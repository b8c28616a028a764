//! Sealing small secrets at rest (queued mail, TOTP secrets): AES-256-GCM under a key file in
//! `data_dir`, so a copy of the database alone opens nothing. Instances that share `data_dir`
//! share the keys.

use std::path::Path;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};

use crate::files::{load_or_create_secret, SecretError};

pub struct SealKey(RandomizedNonceKey);

impl SealKey {
    /// The key in `data_dir/file`, made (0600) at first use.
    pub fn load_or_create(data_dir: &Path, file: &str) -> Result<SealKey, SecretError> {
        let secret = load_or_create_secret(data_dir, file, 32)?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, &secret[..32])
            .map_err(|_| SecretError::Generate)?;
        Ok(SealKey(key))
    }

    /// `nonce || ciphertext || tag` of `plain`.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        self.seal_for(b"", plain)
    }

    /// What [`SealKey::seal`] sealed, or `None` if it was not sealed with this key.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open_for(b"", sealed)
    }

    /// [`SealKey::seal`] bound to `context` (a purpose and an owner, say): it opens only with
    /// the same context, so a sealed value cannot be moved to another row or form.
    pub fn seal_for(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut data = plain.to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(context), &mut data)
            .expect("AES-GCM seals any message shorter than 64 GiB");
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        out
    }

    pub fn open_for(&self, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_sealed_for_one_context_does_not_open_in_another() {
        let dir = tempfile::tempdir().unwrap();
        let key = SealKey::load_or_create(dir.path(), "k.key").unwrap();
        let sealed = key.seal_for(b"totp:user-a", b"JBSWY3DPEHPK3PXP");
        assert_eq!(
            key.open_for(b"totp:user-a", &sealed).as_deref(),
            Some(&b"JBSWY3DPEHPK3PXP"[..])
        );
        assert_eq!(key.open_for(b"totp:user-b", &sealed), None);
        assert_eq!(key.open(&sealed), None);
        assert_eq!(key.open_for(b"totp:user-a", &sealed[..5]), None);
    }
}
