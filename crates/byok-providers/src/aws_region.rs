//! AWS regions as byok uses them: the default one, what a region name may be (so it can
//! go into a host name), and the domain of its partition.

/// Where AWS requests go when the credential names no region.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// Whether `region` is a plain region name: lowercase letters, digits and `-`.
pub(crate) fn is_region(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The domain of `region`'s partition: China's regions live under `amazonaws.com.cn`.
pub(crate) fn domain(region: &str) -> &'static str {
    if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" }
}
