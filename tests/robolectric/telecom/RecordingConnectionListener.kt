// Telecom's side of a Connection, for the tests: the framework listens to a
// Connection through the package-private Connection.Listener, so this
// recorder lives in android.telecom (Kotlin sees Java package-private
// members from the same package) and keeps the listener itself private.
package android.telecom

/** Records the audio routes a Connection asks Telecom for. */
class RecordingConnectionListener {
    val requestedRoutes = java.util.concurrent.CopyOnWriteArrayList<Int>()

    private val listener = object : Connection.Listener() {
        override fun onAudioRouteChanged(c: Connection, audioRoute: Int, bluetoothAddress: String?) {
            requestedRoutes += audioRoute
        }
    }

    /** Starts listening to [connection]. */
    fun attach(connection: Connection) {
        connection.addConnectionListener(listener)
    }
}
