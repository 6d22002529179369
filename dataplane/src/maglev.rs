//! Maglev tables. To be implemented.
