//! A pcapng writer (draft-ietf-opsawg-pcapng), just what `anycast6ctl
//! capture` needs: one Section Header Block, one Interface Description
//! Block per ingress interface (Ethernet, nanosecond timestamps, its
//! name), and an Enhanced Packet Block per sample with the decision in
//! its comment. Everything little-endian; docs/capture.md section 4 gives
//! the exact bytes.

use std::collections::HashMap;
use std::io::{self, Write};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const LINKTYPE_ETHERNET: u16 = 1;
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Appends one option (code, length, value padded to 32 bits).
fn option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    // An option value is at most 65535 bytes; longer ones are cut.
    let value = &value[..value.len().min(u16::MAX as usize)];
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.extend(std::iter::repeat_n(0u8, pad4(value.len())));
}

/// A whole block: type, total length, body, total length again.
fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let total = (12 + body.len()) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// The Section Header Block (section length unknown: -1).
pub fn section_header(user_appl: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    option(&mut body, SHB_USERAPPL, user_appl.as_bytes());
    option(&mut body, OPT_ENDOFOPT, &[]);
    block(SHB, &body)
}

/// An Interface Description Block: Ethernet, `snaplen`, nanosecond
/// timestamps (if_tsresol 9), the interface's name.
pub fn interface_description(if_name: &str, snaplen: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&snaplen.to_le_bytes());
    option(&mut body, IF_NAME, if_name.as_bytes());
    option(&mut body, IF_TSRESOL, &[9]);
    option(&mut body, OPT_ENDOFOPT, &[]);
    block(IDB, &body)
}

/// An Enhanced Packet Block: interface `if_id`, time in nanoseconds since
/// the epoch, the captured bytes, the frame's length, one comment.
pub fn enhanced_packet(
    if_id: u32,
    ts_ns: u64,
    data: &[u8],
    orig_len: u32,
    comment: &str,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(20 + data.len() + comment.len() + 16);
    body.extend_from_slice(&if_id.to_le_bytes());
    body.extend_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts_ns as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    body.extend(std::iter::repeat_n(0u8, pad4(data.len())));
    option(&mut body, OPT_COMMENT, comment.as_bytes());
    option(&mut body, OPT_ENDOFOPT, &[]);
    block(EPB, &body)
}

/// Writes a section, adding an IDB the first time an interface is seen.
pub struct PcapngWriter<W: Write> {
    out: W,
    snaplen: u32,
    /// ifindex -> interface id in this section.
    ifaces: HashMap<u32, u32>,
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(mut out: W, snaplen: u32, user_appl: &str) -> io::Result<Self> {
        out.write_all(&section_header(user_appl))?;
        Ok(PcapngWriter {
            out,
            snaplen,
            ifaces: HashMap::new(),
        })
    }

    /// One packet from interface `ifindex` (named `if_name`).
    pub fn packet(
        &mut self,
        ifindex: u32,
        if_name: &str,
        ts_ns: u64,
        data: &[u8],
        orig_len: u32,
        comment: &str,
    ) -> io::Result<()> {
        let id = match self.ifaces.get(&ifindex) {
            Some(id) => *id,
            None => {
                let id = self.ifaces.len() as u32;
                self.out
                    .write_all(&interface_description(if_name, self.snaplen))?;
                self.ifaces.insert(ifindex, id);
                id
            }
        };
        self.out
            .write_all(&enhanced_packet(id, ts_ns, data, orig_len, comment))
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact bytes docs/capture.md section 4 shows.
    #[test]
    fn blocks_are_byte_exact() {
        #[rustfmt::skip]
        let shb: Vec<u8> = vec![
            0x0a, 0x0d, 0x0d, 0x0a, 40, 0, 0, 0, // type, length
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, // byte-order magic, version 1.0
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length -1
            4, 0, 2, 0, b'a', b'6', 0, 0, // shb_userappl "a6"
            0, 0, 0, 0, // opt_endofopt
            40, 0, 0, 0,
        ];
        assert_eq!(section_header("a6"), shb);
        #[rustfmt::skip]
        let idb: Vec<u8> = vec![
            1, 0, 0, 0, 40, 0, 0, 0, // type, length
            1, 0, 0, 0, 0, 1, 0, 0, // LINKTYPE_ETHERNET, reserved, snaplen 256
            2, 0, 4, 0, b'e', b't', b'h', b'0', // if_name "eth0"
            9, 0, 1, 0, 9, 0, 0, 0, // if_tsresol 9 (nanoseconds)
            0, 0, 0, 0, // opt_endofopt
            40, 0, 0, 0,
        ];
        assert_eq!(interface_description("eth0", 256), idb);
        #[rustfmt::skip]
        let epb: Vec<u8> = vec![
            6, 0, 0, 0, 48, 0, 0, 0, // type, length
            0, 0, 0, 0, // interface 0
            1, 0, 0, 0, 2, 0, 0, 0, // timestamp high, low
            3, 0, 0, 0, 60, 0, 0, 0, // captured 3, original 60
            0xaa, 0xbb, 0xcc, 0, // data, padded
            1, 0, 1, 0, b'x', 0, 0, 0, // opt_comment "x"
            0, 0, 0, 0, // opt_endofopt
            48, 0, 0, 0,
        ];
        assert_eq!(
            enhanced_packet(0, 0x1_0000_0002, &[0xaa, 0xbb, 0xcc], 60, "x"),
            epb
        );
    }

    #[test]
    fn one_idb_per_interface_before_its_first_packet() {
        let mut w = PcapngWriter::new(Vec::new(), 128, "t").unwrap();
        w.packet(7, "a", 1, &[1; 14], 14, "c").unwrap();
        w.packet(9, "b", 2, &[2; 14], 14, "c").unwrap();
        w.packet(7, "a", 3, &[3; 14], 14, "c").unwrap();
        let out = w.into_inner();
        let mut types = Vec::new();
        let mut off = 0;
        while off < out.len() {
            let t = u32::from_le_bytes(out[off..off + 4].try_into().unwrap());
            let len = u32::from_le_bytes(out[off + 4..off + 8].try_into().unwrap()) as usize;
            assert_eq!(&out[off + len - 4..off + len], &(len as u32).to_le_bytes());
            if t == EPB {
                types.push(format!("epb{}", out[off + 8]));
            } else {
                types.push(format!("{t:#x}"));
            }
            off += len;
        }
        assert_eq!(types, ["0xa0d0d0a", "0x1", "epb0", "0x1", "epb1", "epb0"]);
    }
}
