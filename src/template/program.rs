//! The compiled program. (Being written.)
#[derive(Clone, Debug, Default)]
pub struct Program {}
