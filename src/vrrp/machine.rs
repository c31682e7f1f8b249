//! machine (to be written).
