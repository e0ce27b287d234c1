//! Session logic shared by every product type, above the media transport.
//!
//! `RoomCore` turns a [`RoomTransport`](crate::media::RoomTransport)'s events
//! into observable state (connected, canPublish, remote participants) and a
//! raw event firehose. It never decides permissions: `canPublish` changes only
//! when the server pushes a permission update. `SessionBase` adds the join
//! (session → room token → media) and the room's engine pushes; the product
//! sessions (`AudioRoom`, `LiveStream`) add seats and the stage. The
//! `exported` module is the thin UniFFI layer over them.

pub mod audio_room;
pub mod base;
pub mod call;
pub mod call_audio;
pub mod call_machine;
pub mod context;
pub mod exported;
pub mod live_stream;
pub mod pushes;
pub mod room;

pub use room::RoomCore;
