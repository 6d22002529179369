//! The line topology of the MGA tests (tests/tests/mga.rs), the MGA
//! benchmark (bench/src/mga) and the migration test: a client, two plain
//! routers, a member behind each, and A's home link behind the second.
//!
//! ```text
//!   C ─ c-r1 ─ R1 ─ r1-r2 ─ R2 ─ r2-ha ─ H (home link 2001:db8:1::/64)
//!              │            │
//!            r1-m1        r2-m2
//!              M1           M2     (2001:db8:2::2, 2001:db8:3::2)
//! ```
//!
//! Static routes only, to prefixes: C's default to R1; R1 reaches the home
//! prefix and M2's link through R2; R2 reaches C's and M1's links through
//! R1. Nothing routes an anycast address.

use anyhow::Result;

use crate::netns::Netns;
use crate::proto::link;

/// H's address on the home link.
pub const H_ADDR: &str = "2001:db8:1::10";
/// The members' addresses (their care-of addresses under MGA).
pub const M_ADDR: [&str; 2] = ["2001:db8:2::2", "2001:db8:3::2"];
/// The members' interfaces.
pub const M_IF: [&str; 2] = ["m1-r1", "m2-r2"];

pub struct HomeLine {
    pub c: Netns,
    pub r1: Netns,
    pub r2: Netns,
    /// The home link's host (the home agent).
    pub h: Netns,
    pub m1: Netns,
    pub m2: Netns,
}

impl HomeLine {
    /// Namespaces `<short>c`, `r1`, `r2`, `<h>`, `m1`, `m2`; the links and
    /// static routes above; IPv6 forwarding on R1, R2 and H. With
    /// `home_link` false the caller builds R2's home link itself (and H's
    /// default route toward 2001:db8:1::1), as a bridge, say.
    pub fn build(short: &str, h: &str, home_link: bool) -> Result<HomeLine> {
        let ns = |n: &str| Netns::new(&format!("{short}{n}"));
        let l = HomeLine {
            c: ns("c")?,
            r1: ns("r1")?,
            r2: ns("r2")?,
            h: ns(h)?,
            m1: ns("m1")?,
            m2: ns("m2")?,
        };
        let mut links = vec![
            (
                &l.c,
                "c-r1",
                "2001:db8:10::2/64",
                &l.r1,
                "r1-c",
                "2001:db8:10::1/64",
            ),
            (
                &l.r1,
                "r1-r2",
                "2001:db8:11::1/64",
                &l.r2,
                "r2-r1",
                "2001:db8:11::2/64",
            ),
            (
                &l.r1,
                "r1-m1",
                "2001:db8:2::1/64",
                &l.m1,
                "m1-r1",
                "2001:db8:2::2/64",
            ),
            (
                &l.r2,
                "r2-m2",
                "2001:db8:3::1/64",
                &l.m2,
                "m2-r2",
                "2001:db8:3::2/64",
            ),
        ];
        if home_link {
            links.push((
                &l.r2,
                "r2-ha",
                "2001:db8:1::1/64",
                &l.h,
                "ha-r2",
                "2001:db8:1::10/64",
            ));
        }
        for (a, ai, aa, b, bi, ba) in links {
            link(a, ai, aa, b, bi, ba)?;
        }
        for r in [&l.r1, &l.r2, &l.h] {
            r.enable_forwarding()?;
        }
        l.c.add_route("default", "2001:db8:10::1")?;
        l.r1.add_route("2001:db8:1::/64", "2001:db8:11::2")?;
        l.r1.add_route("2001:db8:3::/64", "2001:db8:11::2")?;
        l.r2.add_route("2001:db8:10::/64", "2001:db8:11::1")?;
        l.r2.add_route("2001:db8:2::/64", "2001:db8:11::1")?;
        if home_link {
            l.h.add_route("default", "2001:db8:1::1")?;
        }
        Ok(l)
    }

    /// The members' default routes with an MTU 64 octets below the link's:
    /// room for the reverse tunnel (40) or a Home Address option (24) on
    /// replies from A (docs/mga.md §8.3).
    pub fn member_routes(&self) -> Result<()> {
        for (m, via) in [(&self.m1, "2001:db8:2::1"), (&self.m2, "2001:db8:3::1")] {
            m.ip(&["-6", "route", "add", "default", "via", via, "mtu", "1436"])?;
        }
        Ok(())
    }
}
