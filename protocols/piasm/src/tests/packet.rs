//! Byte vectors of every message, both ways.
