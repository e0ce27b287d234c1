// What Android 13 and 14 ask of a calling app, checked and reported to the
// host rather than worked around: a call that cannot ring over the lock
// screen, or cannot post its notification, must be visible to the app so it
// can send the user to the right settings screen.
package com.utdstream.sdk.android

import android.Manifest
import android.app.NotificationManager
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import android.provider.Settings

/** A thing the calls layer needs that the user or the app has not granted. */
enum class UTDCallRequirement {
    /** API 33+: the runtime permission to post the incoming-call notification (or notifications are off). */
    POST_NOTIFICATIONS,

    /** API 34+: the user's per-app grant to ring over the lock screen (`canUseFullScreenIntent()`). */
    FULL_SCREEN_INTENT,

    /** The microphone, for the call's audio and the `microphone` foreground-service type. */
    RECORD_AUDIO,

    /** Self-managed calls through Telecom and the `phoneCall` foreground-service type. */
    MANAGE_OWN_CALLS,

    /** API 31+: Bluetooth headsets as an audio route. */
    BLUETOOTH_CONNECT,
}

/** Checks [UTDCallRequirement]s and names the screens that grant them. */
class UTDCallRequirements(context: Context) {
    private val app = context.applicationContext
    private val notifications = app.notificationManager()

    /** Whether the incoming-call notification can be posted. */
    fun notificationsAllowed(): Boolean =
        (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU || granted(Manifest.permission.POST_NOTIFICATIONS)) &&
            notifications.areNotificationsEnabled()

    /**
     * Whether a ringing call may take the screen over the lock screen. On API
     * 34+ the user grants it per app; without it the OS shows the call as a
     * heads-up notification only.
     */
    fun fullScreenIntentAllowed(): Boolean =
        Build.VERSION.SDK_INT < Build.VERSION_CODES.UPSIDE_DOWN_CAKE || notifications.canUseFullScreenIntent()

    /** Whether the microphone is granted. */
    fun microphoneAllowed(): Boolean = granted(Manifest.permission.RECORD_AUDIO)

    /** Whether self-managed calls are allowed (a normal permission: granted when the manifest has it). */
    fun manageOwnCallsAllowed(): Boolean = granted(Manifest.permission.MANAGE_OWN_CALLS)

    /** Whether Bluetooth routes can be used (API 31+ runtime permission). */
    fun bluetoothAllowed(): Boolean =
        Build.VERSION.SDK_INT < Build.VERSION_CODES.S || granted(Manifest.permission.BLUETOOTH_CONNECT)

    /** Everything missing now, in enum order. */
    fun missing(): List<UTDCallRequirement> = buildList {
        if (!notificationsAllowed()) add(UTDCallRequirement.POST_NOTIFICATIONS)
        if (!fullScreenIntentAllowed()) add(UTDCallRequirement.FULL_SCREEN_INTENT)
        if (!microphoneAllowed()) add(UTDCallRequirement.RECORD_AUDIO)
        if (!manageOwnCallsAllowed()) add(UTDCallRequirement.MANAGE_OWN_CALLS)
        if (!bluetoothAllowed()) add(UTDCallRequirement.BLUETOOTH_CONNECT)
    }

    /** The runtime permissions the host should request (with its own rationale UI) on this API level. */
    fun runtimePermissions(): List<String> = buildList {
        add(Manifest.permission.RECORD_AUDIO)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) add(Manifest.permission.POST_NOTIFICATIONS)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) add(Manifest.permission.BLUETOOTH_CONNECT)
    }

    /**
     * The settings screen where the user grants [requirement], for the host to
     * start; null when a runtime-permission request is the way (or, below API
     * 34, for the full-screen grant, which needs none).
     */
    fun settingsIntent(requirement: UTDCallRequirement): Intent? = when (requirement) {
        UTDCallRequirement.FULL_SCREEN_INTENT ->
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.UPSIDE_DOWN_CAKE) {
                Intent(Settings.ACTION_MANAGE_APP_USE_FULL_SCREEN_INTENT, Uri.parse("package:${app.packageName}"))
            } else {
                null
            }
        UTDCallRequirement.POST_NOTIFICATIONS ->
            Intent(Settings.ACTION_APP_NOTIFICATION_SETTINGS).putExtra(Settings.EXTRA_APP_PACKAGE, app.packageName)
        else -> null
    }

    private fun granted(permission: String) = app.checkSelfPermission(permission) == PackageManager.PERMISSION_GRANTED
}
