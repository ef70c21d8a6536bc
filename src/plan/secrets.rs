//! Per-deployment secrets. Generation is a pure function of a 32-byte seed and the secret's
//! name, so tests and reproducible builds get the same bytes from the same seed; the CLI
//! seeds from the OS. A secret that already exists in the app's `.env` is kept, because
//! changing a database password under a running database breaks it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::catalog::template::{Charset, SecretSpec};

#[derive(Clone)]
pub struct SecretSeed(pub [u8; 32]);

impl std::fmt::Debug for SecretSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSeed(<redacted>)")
    }
}

impl SecretSeed {
    /// Parses 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(SecretSeed(out))
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

pub fn generate(seed: &SecretSeed, name: &str, spec: &SecretSpec) -> String {
    // One stream per secret name: adding a secret to a template changes no other secret.
    let mut hasher = Sha256::new();
    hasher.update(b"berth secret v1\0");
    hasher.update(seed.0);
    hasher.update(name.as_bytes());
    let mut rng = ChaCha20Rng::from_seed(hasher.finalize().into());
    let alphabet = match spec.charset {
        Charset::Alnum => ALNUM,
        Charset::Hex => HEX,
    };
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(spec.length);
    while out.len() < spec.length {
        let byte = (rng.next_u32() & 0xff) as usize;
        if byte < limit {
            out.push(alphabet[byte % alphabet.len()] as char);
        }
    }
    out
}

/// Issue and expiry of derived JWTs. Fixed, so planning stays a pure function: issued
/// 2026-01-01T00:00:00Z, valid ten years, as Supabase's own key generator does.
const JWT_IAT: u64 = 1_767_225_600;
const JWT_EXP: u64 = JWT_IAT + 10 * 365 * 24 * 3600;

/// An HS256 JWT `{"role", "iss": "supabase", "iat", "exp"}` signed with `key`.
pub fn jwt(role: &str, key: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "role": role,
        "iss": "supabase",
        "iat": JWT_IAT,
        "exp": JWT_EXP,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(length: usize, charset: Charset) -> SecretSpec {
        SecretSpec {
            length,
            charset,
            description: String::new(),
            jwt: None,
        }
    }

    #[test]
    fn jwt_matches_a_known_hs256_signature() {
        // Computed independently with Python's hmac and hashlib (claims in the order
        // role, iss, iat, exp, as written) over the
        // same signing input and key.
        let token = jwt("anon", "secret");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["role"], "anon");
        assert_eq!(claims["iss"], "supabase");
        assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
        assert_eq!(parts[2], EXPECTED_ANON_SIGNATURE);
    }

    const EXPECTED_ANON_SIGNATURE: &str = "J7cN53PWD4PabWYBDe7hzlVEwzMHsel6Mq1VQCD-d7A";

    #[test]
    fn deterministic_per_seed_and_name() {
        let seed = SecretSeed([7; 32]);
        let a = generate(&seed, "DB_PASSWORD", &spec(32, Charset::Alnum));
        assert_eq!(a, generate(&seed, "DB_PASSWORD", &spec(32, Charset::Alnum)));
        assert_ne!(a, generate(&seed, "OTHER", &spec(32, Charset::Alnum)));
        assert_ne!(
            a,
            generate(
                &SecretSeed([8; 32]),
                "DB_PASSWORD",
                &spec(32, Charset::Alnum)
            )
        );
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        let h = generate(&seed, "KEY", &spec(64, Charset::Hex));
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn seed_hex_round_trip() {
        assert!(SecretSeed::from_hex(&"ab".repeat(32)).is_some());
        assert!(SecretSeed::from_hex("abc").is_none());
        assert!(SecretSeed::from_hex(&"zz".repeat(32)).is_none());
        assert_eq!(
            format!("{:?}", SecretSeed([1; 32])),
            "SecretSeed(<redacted>)"
        );
    }
}
