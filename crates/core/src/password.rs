//! werkzeug-compatible password hashes (`pbkdf2:sha256:<iterations>$<salt>$<hex>`), so a
//! cube-studio database keeps working and cube-studio can read hashes we write.

use hmac::Hmac;
use rand::Rng;
use sha2::Sha256;

/// Iterations werkzeug 2.3 (cube-studio's pin) uses for new hashes.
pub const DEFAULT_ITERATIONS: u32 = 600_000;

const SALT_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn pbkdf2_hex(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt.as_bytes(), iterations, &mut out)
        .unwrap_or_default();
    hex::encode(out)
}

static ITERATIONS: std::sync::atomic::AtomicU32 =
    std::sync::atomic::AtomicU32::new(DEFAULT_ITERATIONS);

/// Sets the iterations [`hash_password`] uses (from `PASSWORD_HASH_ITERATIONS`).
pub fn set_iterations(n: u32) {
    ITERATIONS.store(n.max(1000), std::sync::atomic::Ordering::Relaxed);
}

/// Hashes a password the way werkzeug's `generate_password_hash` does.
pub fn hash_password(password: &str) -> String {
    hash_password_with(
        password,
        ITERATIONS.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// Hashes with an explicit iteration count.
pub fn hash_password_with(password: &str, iterations: u32) -> String {
    let mut rng = rand::rng();
    let salt: String = (0..16)
        .map(|_| SALT_CHARS[rng.random_range(0..SALT_CHARS.len())] as char)
        .collect();
    format!(
        "pbkdf2:sha256:{iterations}${salt}${}",
        pbkdf2_hex(password, &salt, iterations)
    )
}

/// True when `hash` is a werkzeug pbkdf2:sha256 hash.
pub fn is_hash(value: &str) -> bool {
    value.starts_with("pbkdf2:sha256")
}

/// Checks a password against a werkzeug `pbkdf2:sha256` hash. Other formats (and
/// plain-text stored passwords, which the original accepted) never verify.
pub fn verify_password(hash: &str, password: &str) -> bool {
    let mut parts = hash.splitn(3, '$');
    let (Some(method), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let mut m = method.split(':');
    if m.next() != Some("pbkdf2") || m.next() != Some("sha256") {
        return false;
    }
    let iterations = match m.next() {
        Some(n) => match n.parse::<u32>() {
            Ok(n) if n > 0 && n <= 10_000_000 => n,
            _ => return false,
        },
        None => 260_000,
    };
    let actual = pbkdf2_hex(password, salt, iterations);
    constant_time_eq(actual.as_bytes(), expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_a_werkzeug_hash() {
        // werkzeug.security.generate_password_hash("admin", "pbkdf2:sha256:1000") with salt "abcdefgh"
        let h = format!(
            "pbkdf2:sha256:1000$abcdefgh${}",
            pbkdf2_hex("admin", "abcdefgh", 1000)
        );
        assert!(verify_password(&h, "admin"));
        assert!(!verify_password(&h, "admin2"));
        assert!(!verify_password("admin", "admin"));
        assert!(!verify_password("pbkdf2:sha256:x$a$b", "admin"));
    }

    #[test]
    fn known_vector() {
        // RFC 7914 / common PBKDF2-HMAC-SHA256 vector: P="password", S="salt", c=1
        assert_eq!(
            pbkdf2_hex("password", "salt", 1),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
    }

    #[test]
    fn round_trips() {
        let h = hash_password_with("s3cret", 1000);
        assert!(h.starts_with("pbkdf2:sha256:1000$"));
        assert!(verify_password(&h, "s3cret"));
    }
}
