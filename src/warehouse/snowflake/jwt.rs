//! Key-pair authentication: the JWT a Snowflake service user logs in with.
//!
//! Snowflake's documentation ("Key-pair authentication", "Generate a JWT") asks for an RS256
//! token with these claims, account and user in upper case:
//!
//! * `iss`: `ACCOUNT.USER.SHA256:<fingerprint>`, the fingerprint being the base64 of the SHA-256
//!   of the public key's DER `SubjectPublicKeyInfo` (what `DESC USER` shows as
//!   `RSA_PUBLIC_KEY_FP`, and `openssl rsa -pubout -outform DER | openssl dgst -sha256 -binary |
//!   openssl enc -base64` computes);
//! * `sub`: `ACCOUNT.USER`;
//! * `iat` and `exp`: seconds since the epoch, `exp` at most an hour after `iat`.
//!
//! Signing is RSASSA-PKCS1-v1_5 with SHA-256 by ring, which rustls builds already (no new
//! crate). ring reads unencrypted PKCS#8 (`BEGIN PRIVATE KEY`) and PKCS#1 (`BEGIN RSA PRIVATE
//! KEY`) keys of 2048 bits or more. An encrypted PKCS#8 key (`BEGIN ENCRYPTED PRIVATE KEY`, with
//! `private_key_passphrase`) needs PBES2 (PBKDF2 and AES-CBC), which ring does not offer: it is
//! refused with a clear error for now.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use super::error::SnowflakeError;

/// How long a login token is valid. The login request is sent right after signing, so a minute
/// is plenty (it is what Snowflake's Python connector uses), and a token that leaks is useless
/// soon after.
pub const TOKEN_LIFETIME_SECS: u64 = 60;

/// An RSA private key ready to sign login tokens, with its public key's fingerprint.
pub struct KeyPair {
    key: RsaKeyPair,
    /// `SHA256:<base64>` of the public key's DER SubjectPublicKeyInfo.
    fingerprint: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Reads a PEM private key file. Errors name the file, never its contents.
    pub fn load(path: &Path, passphrase: Option<&str>) -> Result<KeyPair, SnowflakeError> {
        let pem =
            std::fs::read(path).map_err(|e| SnowflakeError::Key(format!("cannot read {}: {e}", path.display())))?;
        KeyPair::from_pem(&pem, passphrase).map_err(|m| SnowflakeError::Key(format!("{}: {m}", path.display())))
    }

    /// A key from PEM text: PKCS#8 or PKCS#1, unencrypted. The error says what is wrong.
    pub fn from_pem(pem: &[u8], passphrase: Option<&str>) -> Result<KeyPair, String> {
        let text = String::from_utf8_lossy(pem);
        if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err("encrypted private keys are not supported yet; decrypt it (`openssl pkcs8 -topk8 -nocrypt \
                        -in KEY -out KEY.p8`), keep the file readable by this user only, and drop private_key_passphrase"
                .into());
        }
        if passphrase.is_some() {
            return Err("private_key_passphrase is given but the key is not encrypted".into());
        }
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
            "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY)".to_string()
        })?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err("not an RSA key: Snowflake's key-pair authentication uses RSA".into()),
        }
        .map_err(|e| format!("not a usable RSA private key ({e}); Snowflake needs RSA of 2048 bits or more"))?;
        let spki = subject_public_key_info(key.public_key().as_ref());
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        let fingerprint = format!("SHA256:{}", STANDARD.encode(digest.as_ref()));
        Ok(KeyPair { key, fingerprint })
    }

    /// `SHA256:<base64>`, as Snowflake shows it in `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The public key as DER SubjectPublicKeyInfo (what `openssl rsa -pubout -outform DER`
    /// writes, and `ALTER USER … SET RSA_PUBLIC_KEY` takes in base64).
    pub fn public_key_der(&self) -> Vec<u8> {
        subject_public_key_info(self.key.public_key().as_ref())
    }

    /// A signed login token for `USER` of `ACCOUNT` (as [`super::SnowflakeSource::account_name`]
    /// gives it), issued at `issued_at` (seconds since the epoch).
    pub fn token(&self, account: &str, user: &str, issued_at: u64) -> Result<String, SnowflakeError> {
        let subject = format!("{}.{}", account.to_ascii_uppercase(), user.to_ascii_uppercase());
        let claims = serde_json::json!({
            "iss": format!("{subject}.{}", self.fingerprint),
            "sub": subject,
            "iat": issued_at,
            "exp": issued_at + TOKEN_LIFETIME_SECS,
        });
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| SnowflakeError::Key("signing the login token failed".into()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// Wraps a PKCS#1 `RSAPublicKey` in a `SubjectPublicKeyInfo`:
/// `SEQUENCE { SEQUENCE { rsaEncryption OID, NULL }, BIT STRING { 0 unused bits, key } }`.
fn subject_public_key_info(rsa_public_key: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier for rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
    const ALGORITHM: [u8; 15] =
        [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut bit_string = vec![0x00];
    bit_string.extend_from_slice(rsa_public_key);
    let mut body = ALGORITHM.to_vec();
    der_tlv(0x03, &bit_string, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(0x30, &body, &mut out);
    out
}

/// Appends one DER tag-length-value.
fn der_tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        let mut out = Vec::new();
        der_tlv(0x04, &[7; 5], &mut out);
        assert_eq!(out[..2], [0x04, 5]);
        let mut out = Vec::new();
        der_tlv(0x04, &[7; 0x80], &mut out);
        assert_eq!(out[..3], [0x04, 0x81, 0x80]);
        let mut out = Vec::new();
        der_tlv(0x04, &[7; 0x1234], &mut out);
        assert_eq!(out[..4], [0x04, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn refused_keys_say_why() {
        let err = KeyPair::from_pem(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            Some("x"),
        )
        .unwrap_err();
        assert!(err.contains("not supported yet"), "{err}");
        let err = KeyPair::from_pem(b"hello", None).unwrap_err();
        assert!(err.contains("not a PEM private key"), "{err}");
        let err = KeyPair::from_pem(b"hello", Some("sesame")).unwrap_err();
        assert!(err.contains("not encrypted") && !err.contains("sesame"), "{err}");
    }
}
