//! AOSPF: anycast routing from OSPFv3 (RFC 5340).
//!
//! What exists so far is the wire format ([`packet`]): the OSPFv3 packets,
//! the LSAs AOSPF needs, the LSA checksum and the authentication trailer
//! (RFC 7166). What AOSPF sends is plain OSPFv3. The interface and
//! neighbour state machines, the LSDB, SPF, the anycast information and
//! the daemon integration are not built yet (docs/aospf.md).

pub mod packet;

#[cfg(test)]
mod tests;
