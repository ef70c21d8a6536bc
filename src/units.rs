//! Docker's byte sizes (`512m`, `2g`, `64k`, plain bytes).

/// Parses a size as Docker and Compose accept it: a number with an optional
/// b/k/m/g suffix (binary multiples), case-insensitive.
pub fn parse_bytes(raw: &str) -> Option<u64> {
    let s = raw.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (digits, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// The shortest exact Docker spelling of a byte count (`536870912` → `512m`).
pub fn format_bytes(bytes: u64) -> String {
    for (suffix, mult) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes >= mult && bytes.is_multiple_of(mult) {
            return format!("{}{suffix}", bytes / mult);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_sizes() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("2G"), Some(2 << 30));
        assert_eq!(parse_bytes("64kb"), Some(64 << 10));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes(""), None);
        assert_eq!(parse_bytes("m"), None);
        assert_eq!(parse_bytes("1.5g"), None);
        assert_eq!(parse_bytes("99999999999999999999g"), None);
    }

    #[test]
    fn formats_round_trip() {
        for s in ["512m", "2g", "64k", "100"] {
            assert_eq!(format_bytes(parse_bytes(s).unwrap()), s);
        }
    }
}
