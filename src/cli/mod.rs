//! The command-line interface. (Being written.)
pub fn main() -> i32 {
    0
}
