//! The JSONata lexer. (Being written.)
