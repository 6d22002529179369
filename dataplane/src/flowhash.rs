//! Flow hash (twin of ebpf/include/flowhash.h). To be implemented.
