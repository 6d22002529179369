//! Which destinations are anycast: configured prefixes plus the RFC 2526
//! reserved subnet anycast addresses, recognised by rule.
//!
//! Matching runs on every `connect`/`sendto`/`sendmsg` to an IPv6
//! destination, so it allocates nothing and takes no lock: a linear scan
//! of (network, mask) pairs held as `u128`.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// An IPv6 prefix; a bare address is a /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    network: u128,
    len: u8,
}

impl Prefix {
    /// `None` when `len` > 128. Host bits of `addr` are cleared, so
    /// `2001:db8::1/32` means `2001:db8::/32`.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Prefix> {
        (len <= 128).then(|| Prefix {
            network: u128::from(addr) & mask(len),
            len,
        })
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & mask(self.len) == self.network
    }
}

fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv6Addr::from(self.network), self.len)
    }
}

/// Why a prefix did not parse (the config module adds the line number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("`{0}` is not an IPv6 address")]
    AddressInvalid(String),
    #[error("`{0}` is not a prefix length 0..=128")]
    LengthInvalid(String),
}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| PrefixError::AddressInvalid(addr.to_string()))?;
        let len = match len {
            None => 128,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= 128)
                .ok_or_else(|| PrefixError::LengthInvalid(l.to_string()))?,
        };
        Ok(Prefix::new(addr, len).expect("length checked above"))
    }
}

/// RFC 2526 §2: in an address type whose interface identifiers are 64-bit
/// EUI-64 format, the reserved subnet anycast addresses are
///
/// ```text
/// |              64 bits            |      57 bits     |   7 bits   |
/// +---------------------------------+------------------+------------+
/// |           subnet prefix         | 1111110111...111 | anycast ID |
/// +---------------------------------+------------------+------------+
/// ```
///
/// i.e. interface identifiers `fdff:ffff:ffff:ff80` ..= `fdff:ffff:ffff:ffff`
/// (the universal/local bit is 0: the identifier is not globally unique).
/// Every anycast ID 0..=127 is reserved (0x7e is Mobile IPv6 Home-Agents,
/// RFC 6275), so all 128 match.
///
/// RFC 4291 §2.5.1 requires 64-bit EUI-64 identifiers for every unicast
/// address except those starting with binary 000; multicast (ff00::/8) is
/// not unicast. Neither follows this format, so neither matches. RFC 2526's
/// other form (non-EUI-64 types: all ones but the last 7 bits of an
/// interface identifier of unknown length) cannot be recognised without
/// knowing the prefix length: configure those addresses explicitly.
pub fn is_rfc2526_subnet_anycast(addr: Ipv6Addr) -> bool {
    const IID_MASK: u64 = !0x7f; // everything but the anycast ID
    const IID_RESERVED: u64 = 0xfdff_ffff_ffff_ff80;
    let bits = u128::from(addr);
    let first_byte = (bits >> 120) as u8;
    let eui64_type = first_byte & 0xe0 != 0 && first_byte != 0xff;
    eui64_type && (bits as u64) & IID_MASK == IID_RESERVED
}

/// The set of destinations resolved through AARP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnycastSet {
    prefixes: Vec<Prefix>,
    rfc2526: bool,
}

impl AnycastSet {
    pub fn new(prefixes: Vec<Prefix>, rfc2526: bool) -> AnycastSet {
        AnycastSet { prefixes, rfc2526 }
    }

    pub fn prefixes(&self) -> &[Prefix] {
        &self.prefixes
    }

    pub fn rfc2526(&self) -> bool {
        self.rfc2526
    }

    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        (self.rfc2526 && is_rfc2526_subnet_anycast(addr))
            || self.prefixes.iter().any(|p| p.contains(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_parses_and_matches() {
        let p: Prefix = "2001:db8:a::/48".parse().unwrap();
        assert_eq!(p.prefix_len(), 48);
        assert!(p.contains(a("2001:db8:a::1")));
        assert!(p.contains(a("2001:db8:a:ffff:ffff:ffff:ffff:ffff")));
        assert!(!p.contains(a("2001:db8:b::1")));
        assert_eq!(p.to_string(), "2001:db8:a::/48");
    }

    #[test]
    fn bare_address_is_host_prefix() {
        let p: Prefix = "2001:db8::53".parse().unwrap();
        assert_eq!(p.prefix_len(), 128);
        assert!(p.contains(a("2001:db8::53")));
        assert!(!p.contains(a("2001:db8::54")));
    }

    #[test]
    fn host_bits_are_cleared_and_zero_length_matches_all() {
        let p: Prefix = "2001:db8::1/32".parse().unwrap();
        assert_eq!(p.to_string(), "2001:db8::/32");
        let all: Prefix = "::/0".parse().unwrap();
        assert!(all.contains(a("fe80::1")));
    }

    #[test]
    fn bad_prefixes_say_why() {
        assert_eq!(
            "2001:db8::/129".parse::<Prefix>(),
            Err(PrefixError::LengthInvalid("129".into()))
        );
        assert_eq!(
            "2001:db8::/x".parse::<Prefix>(),
            Err(PrefixError::LengthInvalid("x".into()))
        );
        assert_eq!(
            "192.0.2.1".parse::<Prefix>(),
            Err(PrefixError::AddressInvalid("192.0.2.1".into()))
        );
    }

    #[test]
    fn rfc2526_range_is_exactly_128_identifiers() {
        // Lowest and highest anycast ID, and the Home-Agents one (0x7e).
        assert!(is_rfc2526_subnet_anycast(a(
            "2001:db8:1:2:fdff:ffff:ffff:ff80"
        )));
        assert!(is_rfc2526_subnet_anycast(a(
            "2001:db8:1:2:fdff:ffff:ffff:ffff"
        )));
        assert!(is_rfc2526_subnet_anycast(a(
            "2001:db8:1:2:fdff:ffff:ffff:fffe"
        )));
        // One below the range, and the u bit set (fff..: not 2526).
        assert!(!is_rfc2526_subnet_anycast(a(
            "2001:db8:1:2:fdff:ffff:ffff:ff7f"
        )));
        assert!(!is_rfc2526_subnet_anycast(a(
            "2001:db8:1:2:ffff:ffff:ffff:ffff"
        )));
        assert!(!is_rfc2526_subnet_anycast(a(
            "2001:db8:1:2:fcff:ffff:ffff:ff80"
        )));
        assert!(!is_rfc2526_subnet_anycast(a("2001:db8:1:2::1")));
        let hits = (0u64..=0xffff)
            .filter(|low| {
                let iid = 0xfdff_ffff_ffff_0000 | low;
                is_rfc2526_subnet_anycast(Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(iid)))
            })
            .count();
        assert_eq!(hits, 128);
    }

    #[test]
    fn rfc2526_applies_to_eui64_types_only() {
        // Link-local and ULA have 64-bit EUI-64 identifiers too.
        assert!(is_rfc2526_subnet_anycast(a("fe80::fdff:ffff:ffff:ff80")));
        assert!(is_rfc2526_subnet_anycast(a("fd00:1::fdff:ffff:ffff:ffaa")));
        // Format prefix 000 (::/3, e.g. IPv4-compatible/mapped) and multicast.
        assert!(!is_rfc2526_subnet_anycast(a("::fdff:ffff:ffff:ff80")));
        assert!(!is_rfc2526_subnet_anycast(a("1fff::fdff:ffff:ffff:ff80")));
        assert!(is_rfc2526_subnet_anycast(a("2000::fdff:ffff:ffff:ff80")));
        assert!(!is_rfc2526_subnet_anycast(a("ff02::fdff:ffff:ffff:ff80")));
    }

    #[test]
    fn set_combines_rule_and_prefixes() {
        let set = AnycastSet::new(vec!["2001:db8:a::/48".parse().unwrap()], true);
        assert!(set.contains(a("2001:db8:a::5")));
        assert!(set.contains(a("2001:db8:ff::fdff:ffff:ffff:ffc0")));
        assert!(!set.contains(a("2001:db8:b::5")));
        let no_rule = AnycastSet::new(vec![], false);
        assert!(!no_rule.contains(a("2001:db8:ff::fdff:ffff:ffff:ffc0")));
    }
}
