//! The reference UTD-Stream Engine (being built; see docs/engine-api.md).
