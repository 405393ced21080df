//! The statements of the design.
