//! OSPFv3 interface settings shared by the FRR ospf6d and BIRD configs
//! ([`crate::frr::Frr::ospf6_config`], [`crate::bird::Bird::ospf_config`]),
//! so a test states one interface once and gets the same link at both
//! ends.

/// The OSPF network type of an interface (RFC 5340 / RFC 2328 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OspfNetwork {
    /// DR election, Network-LSA for the link.
    Broadcast,
    /// No DR; the link is a point-to-point link in the Router-LSA.
    PointToPoint,
}

impl OspfNetwork {
    /// FRR's word (`ipv6 ospf6 network <word>`).
    pub fn frr(self) -> &'static str {
        match self {
            OspfNetwork::Broadcast => "broadcast",
            OspfNetwork::PointToPoint => "point-to-point",
        }
    }

    /// BIRD's word (`type <word>;`).
    pub fn bird(self) -> &'static str {
        match self {
            OspfNetwork::Broadcast => "broadcast",
            OspfNetwork::PointToPoint => "ptp",
        }
    }
}

/// One OSPFv3 interface (area 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OspfIf {
    pub network: OspfNetwork,
    pub cost: u16,
    /// DR election priority (ignored on point-to-point links).
    pub priority: u8,
    /// Hello and dead intervals, seconds.
    pub hello: u16,
    pub dead: u16,
    /// RFC 7166 HMAC-SHA-256 authentication with (key id, key).
    pub auth: Option<(u16, String)>,
}

impl Default for OspfIf {
    /// Broadcast, cost 10, priority 1, hello 1 s, dead 4 s (fast enough
    /// for tests), no authentication.
    fn default() -> OspfIf {
        OspfIf {
            network: OspfNetwork::Broadcast,
            cost: 10,
            priority: 1,
            hello: 1,
            dead: 4,
            auth: None,
        }
    }
}

/// One `[[aospf.interface]]` of an anycast6d config: `name` with `i`'s
/// settings; `key_prep` is the RFC 7166 key preparation its peer needs
/// ("rfc7166" for BIRD, "frr-legacy" for FRR 8.4).
pub fn aospf_interface(name: &str, i: &OspfIf, key_prep: &str) -> String {
    let mut s = format!(
        "[[aospf.interface]]\nname = \"{name}\"\nnetwork = \"{}\"\ncost = {}\npriority = {}\n\
         hello_interval_s = {}\ndead_interval_s = {}\n",
        match i.network {
            OspfNetwork::Broadcast => "broadcast",
            OspfNetwork::PointToPoint => "point-to-point",
        },
        i.cost,
        i.priority,
        i.hello,
        i.dead
    );
    if let Some((id, key)) = &i.auth {
        s.push_str(&format!(
            "auth = {{ key_id = {id}, key = \"{key}\", key_prep = \"{key_prep}\" }}\n"
        ));
    }
    s
}

/// `[aospf]` with router id `router_id`, fast SPF, `lo` passive, the
/// given interfaces, and `[aospf.originate]` of connected prefixes and
/// served anycast addresses.
pub fn aospf_section(router_id: &str, interfaces: &[String]) -> String {
    let mut s = format!("[aospf]\nrouter_id = \"{router_id}\"\nspf_delay_ms = 10\nspf_hold_ms = 50\nlsa_min_interval_ms = 1200\n");
    for i in interfaces {
        s.push_str(i);
    }
    s.push_str("[[aospf.interface]]\nname = \"lo\"\npassive = true\n");
    s.push_str("[aospf.originate]\nconnected = true\nanycast = true\n");
    s
}
