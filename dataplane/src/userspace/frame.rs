//! A frame in a buffer with room to grow: the userspace `xdp_buff`.
//!
//! The packet occupies `buf[..len]`; `buf.len()` is the capacity (a UMEM
//! frame's data segment, or a `Vec` with slack). Growing or shrinking at
//! the head moves the bytes (`copy_within`): an AF_XDP descriptor's address
//! is fixed, so there is no headroom to move into. Only encapsulation,
//! Packet Too Big and stripping a VLAN tag move bytes.

#[derive(Debug)]
pub struct Frame<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Frame<'a> {
    /// A frame of `len` bytes at the start of `buf` (`len` is clamped to
    /// the buffer).
    pub fn new(buf: &'a mut [u8], len: usize) -> Self {
        let len = len.min(buf.len());
        Frame { buf, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// Makes `n` new bytes at the front (contents unspecified); false,
    /// with nothing changed, when the buffer cannot hold them
    /// (`bpf_xdp_adjust_head(-n)` failing).
    pub fn push_front(&mut self, n: usize) -> bool {
        if self.len + n > self.buf.len() {
            return false;
        }
        self.buf.copy_within(..self.len, n);
        self.len += n;
        true
    }

    /// Removes `n` bytes from the front; false when shorter.
    pub fn pop_front(&mut self, n: usize) -> bool {
        if n > self.len {
            return false;
        }
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        true
    }

    /// Sets the length (growing exposes whatever the buffer holds); false
    /// when over the capacity.
    pub fn set_len(&mut self, len: usize) -> bool {
        if len > self.buf.len() {
            return false;
        }
        self.len = len;
        true
    }

    /// The whole buffer, for building a frame in place.
    pub(crate) fn buffer_mut(&mut self) -> &mut [u8] {
        self.buf
    }
}
