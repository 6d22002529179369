//! Small shared helpers: text forms of MACs and routes.

use anycast6_dataplane::Route;

/// `aa:bb:cc:dd:ee:ff`
pub fn mac_str(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Serde for a [`Route`] as its text form (`2001:db8::1`, `2001:db8::/64`).
pub mod route_serde {
    use super::Route;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &Route, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(r)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Route, D::Error> {
        let s = String::deserialize(d)?;
        crate::config::parse_route(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac() {
        assert_eq!(
            super::mac_str(&[0, 0x1b, 0x21, 0xa, 0xff, 1]),
            "00:1b:21:0a:ff:01"
        );
    }
}
