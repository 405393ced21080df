//! Diagnostics rendered for people and programs. (Being written.)
