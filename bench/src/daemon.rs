//! Running anycast6d for a benchmark (stub).
