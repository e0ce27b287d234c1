// Idiomatic Kotlin on top of the generated bindings: each observable of the
// SDK as a cold Flow. Collecting subscribes (the current value arrives first);
// cancelling the collector cancels the SDK subscription.
package com.utdstream.sdk

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.channels.BufferOverflow

/** Signalling connection state: current value first, then each change. */
fun UTDStreamClient.connectionStateFlow(): Flow<UTDConnectionState> = callbackFlow {
    val subscription = observeConnectionState(object : UTDConnectionStateListener {
        override fun onConnectionState(state: UTDConnectionState) {
            trySend(state)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** Plan capabilities: current value first, then each change. */
fun UTDStreamClient.capabilitiesFlow(): Flow<UTDCapabilities> = callbackFlow {
    val subscription = observeCapabilities(object : UTDCapabilitiesListener {
        override fun onCapabilities(capabilities: UTDCapabilities) {
            trySend(capabilities)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** Presence of watched users (a full snapshot each time). */
fun UTDStreamClient.presenceFlow(): Flow<List<UTDPresence>> = callbackFlow {
    val subscription = observePresence(object : UTDPresenceListener {
        override fun onPresence(presence: List<UTDPresence>) {
            trySend(presence)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/** SDK log records at [minLevel] or more severe, redacted. */
fun sdkLogFlow(minLevel: UTDLogLevel): Flow<UTDLogRecord> = callbackFlow {
    val subscription = subscribeLogs(minLevel, object : UTDLogListener {
        override fun onLog(record: UTDLogRecord) {
            trySend(record)
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(capacity = 1024, onBufferOverflow = BufferOverflow.DROP_OLDEST)
