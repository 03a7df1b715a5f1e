//! A bucket's `file_size_limit` given as text, as Supabase Storage reads it.

/// Bytes in a `<number><unit>` size: units `B`, `KB`, `MB`, `GB` in any case, decimal (1 KB =
/// 1000 bytes, as Supabase's `parseFileSizeToBytes`), the number whole or with a fraction
/// (`1.5MB`), nothing else (no spaces, no bare number). `None` also when the size is not a whole
/// number of bytes (`0.5B`) or does not fit.
///
/// This is not the parser of `BIZBASE_STORAGE_FILE_SIZE_LIMIT` (`crate::config::storage`), whose
/// units stay binary so that a configured limit keeps its meaning.
pub fn parse_decimal_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (number, factor): (&str, u128) = [("gb", 1_000_000_000), ("mb", 1_000_000), ("kb", 1_000)]
        .into_iter()
        .find_map(|(unit, factor)| lower.strip_suffix(unit).map(|n| (n, factor)))
        .or_else(|| lower.strip_suffix('b').map(|n| (n, 1)))?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    // A unit is at most 10^9 bytes, so more decimals than nine are never whole bytes.
    let scale = 10u128.checked_pow(u32::try_from(fraction.len()).ok().filter(|n| *n <= 9)?)?;
    let whole: u128 = whole.parse().ok()?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let scaled = whole
        .checked_mul(scale)?
        .checked_add(fraction)?
        .checked_mul(factor)?;
    if scaled % scale != 0 {
        return None;
    }
    u64::try_from(scaled / scale).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_decimal_size;

    #[test]
    fn sizes_use_decimal_units_and_need_one() {
        for (text, bytes) in [
            ("1MB", 1_000_000),
            ("1mb", 1_000_000),
            ("1.5MB", 1_500_000),
            ("2.25GB", 2_250_000_000),
            ("500kb", 500_000),
            ("1gb", 1_000_000_000),
            ("10B", 10),
            ("0.001KB", 1),
            ("1.50MB", 1_500_000),
            ("0GB", 0),
        ] {
            assert_eq!(parse_decimal_size(text), Some(bytes), "{text}");
        }
        for bad in [
            "",
            "1024",
            "MB",
            "1TB",
            "1 MB",
            " 1MB",
            "-1MB",
            "1.MB",
            ".5MB",
            "1.5.1MB",
            "0.5B",
            "1.0001KB",
            "1e3KB",
            "99999999999999999999GB",
            "1,5MB",
        ] {
            assert_eq!(parse_decimal_size(bad), None, "{bad:?}");
        }
    }
}
