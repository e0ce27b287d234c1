//! The media transport: the LiveKit connection behind a narrow trait.
