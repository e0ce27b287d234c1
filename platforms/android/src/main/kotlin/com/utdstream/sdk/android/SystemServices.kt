// The platform services the calls layer uses. android-all declares
// getSystemService as nullable; on a phone these services always exist, so
// a missing one is a broken device image, reported by name.
package com.utdstream.sdk.android

import android.app.NotificationManager
import android.content.Context
import android.telecom.TelecomManager

internal fun Context.notificationManager(): NotificationManager =
    checkNotNull(getSystemService(NotificationManager::class.java)) { "this device has no NotificationManager" }

internal fun Context.telecomManager(): TelecomManager =
    checkNotNull(getSystemService(TelecomManager::class.java)) { "this device has no TelecomManager" }
