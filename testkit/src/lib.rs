//! Test support: starts the real livekit-server and engine on free loopback ports.
