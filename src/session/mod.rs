//! Session logic shared by every product type, above the media transport.
//!
//! `RoomCore` turns a [`RoomTransport`](crate::media::RoomTransport)'s events
//! into observable state (connected, canPublish, remote participants) and a
//! raw event firehose. It never decides permissions: `canPublish` changes only
//! when the server pushes a permission update. The exported session objects
//! (audio room, live stream, call) are built on it.

pub mod audio_room;
pub mod room;

pub use room::RoomCore;
