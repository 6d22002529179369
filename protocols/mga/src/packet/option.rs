//! Mobility options (docs/mga.md §4.5): `Type (8) | Length (8) | Data`,
//! Length not counting the first two octets.
//!
//! The encoder writes the options MGA knows in the order of §4.1 and §4.2
//! and pads as RFC 6275 §6.2 asks: the Home Network Prefix at 8n+4 (RFC
//! 5213 §8.3), Binding Refresh Advice at 2n (RFC 6275 §6.2.4), the
//! authentication option last, placed so that it ends the message on a
//! multiple of 8 octets (nothing may follow it, padding included). The
//! decoder accepts any padding and any order, refuses a known option
//! twice or with the wrong length, anything after the authentication
//! option, and skips unknown options (RFC 6275 §9.2).

use std::net::Ipv6Addr;

use anycast6_core::auth::DIGEST_LEN;

use super::{addr, DecodeError, Reader};

pub const OPT_PAD1: u8 = 0;
pub const OPT_PADN: u8 = 1;
pub const OPT_REFRESH_ADVICE: u8 = 2;
pub const OPT_AUTH: u8 = 9;
pub const OPT_MESSAGE_ID: u8 = 10;
pub const OPT_EXPERIMENTAL: u8 = 18;
pub const OPT_HOME_PREFIX: u8 = 22;

/// The Experimental option's first octets: whose it is, which version.
pub const MAGIC: u8 = 0xa6;
pub const EXPERIMENTAL_VERSION: u8 = 1;
pub const SUB_METRIC: u8 = 1;
pub const SUB_FLOW: u8 = 2;
pub const SUB_DRAINING: u8 = 3;
const SUB_METRIC_LEN: u8 = 4;
const SUB_FLOW_LEN: u8 = 38;

/// Authentication option Subtypes (RFC 4285 §5).
pub const AUTH_MN_HA: u8 = 1;
/// "MN-AAA" in RFC 4285; member–correspondent in MGA.
pub const AUTH_MN_CN: u8 = 2;

const HOME_PREFIX_LEN: u8 = 18;
/// Octets of the authentication option's data: Subtype, SPI,
/// Authenticator.
pub(crate) const AUTH_LEN: u8 = 37;
/// The whole authentication option, type and length included.
pub(crate) const AUTH_OPTION_LEN: usize = 2 + AUTH_LEN as usize;

/// The Flow sub-option (2): one flow as the correspondent sends it, and
/// the member's care-of address it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub protocol: u8,
    pub correspondent_port: u16,
    pub service_port: u16,
    pub correspondent: Ipv6Addr,
    pub care_of: Ipv6Addr,
}

/// The anycast6 Experimental option (18, RFC 5096): Magic 0xa6, Version
/// 1, then sub-options `Sub-type (8) | Sub-length (8) | Value`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Experimental {
    /// Sub-option 1: the member's metric for A (the ARD scale).
    pub metric: Option<u32>,
    /// Sub-option 2: the flow a flow binding binds.
    pub flow: Option<Flow>,
    /// Sub-option 3: serving its flows, wanting no new ones.
    pub draining: bool,
}

/// The Mobility Message Authentication option (9, RFC 4285 §5) with
/// HMAC-SHA-256 (docs/mga.md §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth {
    pub subtype: u8,
    pub spi: u32,
    pub authenticator: [u8; DIGEST_LEN],
}

/// The mobility options MGA knows, as one message carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Home Network Prefix (22) with Prefix Length 128: the anycast
    /// address A.
    pub home_prefix: Option<Ipv6Addr>,
    /// Binding Refresh Advice (2): units of 4 s.
    pub refresh_advice: Option<u16>,
    pub experimental: Option<Experimental>,
    /// Message Identifier (10, RFC 4285 §6).
    pub message_id: Option<u64>,
    /// Mobility Message Authentication (9), last.
    pub auth: Option<Auth>,
}

/// The options from `r` to the end of the message.
pub(crate) fn decode(r: &mut Reader) -> Result<Options, DecodeError> {
    let mut o = Options::default();
    let mut seen = [false; 256];
    while r.left() > 0 {
        let at = r.at();
        let t = r.u8("option.type")?;
        if o.auth.is_some() {
            return Err(DecodeError::OptionAfterAuth(t));
        }
        if t == OPT_PAD1 {
            continue;
        }
        let cut = |field| {
            move |_| DecodeError::OptionCut {
                option: t,
                field,
                at,
            }
        };
        let len = r.u8("option.length").map_err(cut("length"))?;
        let v = r
            .take(usize::from(len), "option.data")
            .map_err(cut("data"))?;
        if t == OPT_PADN {
            continue;
        }
        let known = matches!(
            t,
            OPT_REFRESH_ADVICE | OPT_AUTH | OPT_MESSAGE_ID | OPT_EXPERIMENTAL | OPT_HOME_PREFIX
        );
        if known && std::mem::replace(&mut seen[usize::from(t)], true) {
            return Err(DecodeError::OptionRepeated(t));
        }
        let want = |n: u8, text: &'static str| {
            if len == n {
                Ok(())
            } else {
                Err(DecodeError::OptionLength {
                    option: t,
                    len,
                    want: text,
                })
            }
        };
        match t {
            OPT_REFRESH_ADVICE => {
                want(2, "2")?;
                o.refresh_advice = Some(u16::from_be_bytes([v[0], v[1]]));
            }
            OPT_HOME_PREFIX => {
                want(HOME_PREFIX_LEN, "18")?;
                if v[1] != 128 {
                    return Err(DecodeError::PrefixLength(v[1]));
                }
                o.home_prefix = Some(addr(&v[2..18]));
            }
            OPT_MESSAGE_ID => {
                want(8, "8")?;
                let mut id = [0u8; 8];
                id.copy_from_slice(v);
                o.message_id = Some(u64::from_be_bytes(id));
            }
            OPT_AUTH => {
                want(AUTH_LEN, "37")?;
                let mut authenticator = [0u8; DIGEST_LEN];
                authenticator.copy_from_slice(&v[5..]);
                o.auth = Some(Auth {
                    subtype: v[0],
                    spi: u32::from_be_bytes([v[1], v[2], v[3], v[4]]),
                    authenticator,
                });
            }
            OPT_EXPERIMENTAL => {
                if len < 2 {
                    return Err(DecodeError::OptionLength {
                        option: t,
                        len,
                        want: "at least 2",
                    });
                }
                o.experimental = Some(decode_experimental(v)?);
            }
            // Unknown options are skipped (RFC 6275 §9.2).
            _ => {}
        }
    }
    Ok(o)
}

fn decode_experimental(v: &[u8]) -> Result<Experimental, DecodeError> {
    if v[0] != MAGIC {
        return Err(DecodeError::ExperimentalMagic(v[0]));
    }
    if v[1] != EXPERIMENTAL_VERSION {
        return Err(DecodeError::ExperimentalVersion(v[1]));
    }
    let mut e = Experimental::default();
    let mut seen = [false; 256];
    let mut s = &v[2..];
    while let [sub_type, rest @ ..] = s {
        let sub_type = *sub_type;
        let Some((&len, rest)) = rest.split_first() else {
            return Err(DecodeError::SubOptionCut {
                sub_type,
                len: s.len(),
            });
        };
        if rest.len() < usize::from(len) {
            return Err(DecodeError::SubOptionCut {
                sub_type,
                len: s.len(),
            });
        }
        let (value, next) = rest.split_at(usize::from(len));
        s = next;
        if std::mem::replace(&mut seen[usize::from(sub_type)], true) {
            return Err(DecodeError::SubOptionRepeated(sub_type));
        }
        let want = |n: u8| {
            if len == n {
                Ok(())
            } else {
                Err(DecodeError::SubOptionLength {
                    sub_type,
                    len,
                    want: n,
                })
            }
        };
        match sub_type {
            SUB_METRIC => {
                want(SUB_METRIC_LEN)?;
                e.metric = Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
            }
            SUB_FLOW => {
                want(SUB_FLOW_LEN)?;
                e.flow = Some(Flow {
                    protocol: value[0],
                    correspondent_port: u16::from_be_bytes([value[2], value[3]]),
                    service_port: u16::from_be_bytes([value[4], value[5]]),
                    correspondent: addr(&value[6..22]),
                    care_of: addr(&value[22..38]),
                });
            }
            SUB_DRAINING => {
                want(0)?;
                e.draining = true;
            }
            // Unknown sub-types are ignored (docs/mga.md §4.5).
            _ => {}
        }
    }
    Ok(e)
}

/// Pads `b` (the message so far, from Payload Proto) so that the next
/// option starts at `n * m + r`.
fn align(b: &mut Vec<u8>, m: usize, r: usize) {
    match (r + m - b.len() % m) % m {
        0 => {}
        1 => b.push(OPT_PAD1),
        k => {
            b.extend_from_slice(&[OPT_PADN, (k - 2) as u8]);
            b.resize(b.len() + k - 2, 0);
        }
    }
}

fn put(b: &mut Vec<u8>, t: u8, v: &[u8]) {
    b.push(t);
    b.push(v.len() as u8);
    b.extend_from_slice(v);
}

/// Appends `o` to the fixed part of a message, padded to a multiple of 8.
pub(crate) fn encode(b: &mut Vec<u8>, o: &Options) {
    if let Some(a) = o.home_prefix {
        align(b, 8, 4);
        let mut v = vec![0, 128];
        v.extend_from_slice(&a.octets());
        put(b, OPT_HOME_PREFIX, &v);
    }
    if let Some(r) = o.refresh_advice {
        align(b, 2, 0);
        put(b, OPT_REFRESH_ADVICE, &r.to_be_bytes());
    }
    if let Some(e) = &o.experimental {
        let mut v = vec![MAGIC, EXPERIMENTAL_VERSION];
        if let Some(m) = e.metric {
            v.extend_from_slice(&[SUB_METRIC, SUB_METRIC_LEN]);
            v.extend_from_slice(&m.to_be_bytes());
        }
        if let Some(f) = &e.flow {
            v.extend_from_slice(&[SUB_FLOW, SUB_FLOW_LEN, f.protocol, 0]);
            v.extend_from_slice(&f.correspondent_port.to_be_bytes());
            v.extend_from_slice(&f.service_port.to_be_bytes());
            v.extend_from_slice(&f.correspondent.octets());
            v.extend_from_slice(&f.care_of.octets());
        }
        if e.draining {
            v.extend_from_slice(&[SUB_DRAINING, 0]);
        }
        put(b, OPT_EXPERIMENTAL, &v);
    }
    if let Some(id) = o.message_id {
        put(b, OPT_MESSAGE_ID, &id.to_be_bytes());
    }
    match &o.auth {
        Some(a) => {
            // 39 octets that end the message on a multiple of 8: start at 8n+1.
            align(b, 8, 1);
            let mut v = vec![a.subtype];
            v.extend_from_slice(&a.spi.to_be_bytes());
            v.extend_from_slice(&a.authenticator);
            put(b, OPT_AUTH, &v);
        }
        None => align(b, 8, 0),
    }
}
