// Known media for the Kotlin scenarios (the same signals as the Rust
// testkit's `signals` module): a 48 kHz mono sine tone, read back by its rate
// of zero crossings and its level, and a grey-bar I420 test pattern.
package com.utdstream.tests

import com.utdstream.sdk.UTDAudioFrame
import com.utdstream.sdk.UTDVideoFrame
import com.utdstream.sdk.UTDVideoPixelFormat
import com.utdstream.sdk.UTDVideoPlane
import com.utdstream.sdk.UTDVideoRotation
import kotlin.math.PI
import kotlin.math.abs
import kotlin.math.sin
import kotlin.math.sqrt

/** A sine tone that keeps its phase across 10 ms frames. */
class Tone(private val frequency: Double, private val amplitude: Double = 0.5) {
    private var position = 0L

    fun nextFrame(): UTDAudioFrame {
        val samples = List(480) {
            val t = position++ / 48_000.0
            (sin(2 * PI * frequency * t) * amplitude * Short.MAX_VALUE).toInt().toShort()
        }
        return UTDAudioFrame(samples = samples, sampleRate = 48_000u, numChannels = 1u)
    }
}

/** (frequency in Hz, RMS level 0..1) of mono 48 kHz samples. */
fun readTone(samples: List<Short>): Pair<Double, Double> {
    if (samples.isEmpty()) return 0.0 to 0.0
    var crossings = 0
    for (i in 1 until samples.size) if (samples[i - 1] < 0 && samples[i] >= 0) crossings++
    val level = sqrt(samples.sumOf { val x = it / Short.MAX_VALUE.toDouble(); x * x } / samples.size)
    return crossings / (samples.size / 48_000.0) to level
}

/** Whether [samples] (at least 100 ms) are a tone of [frequency] ± 3 % at [minLevel] or louder. */
fun isTone(samples: List<Short>, frequency: Double, minLevel: Double = 0.1): Boolean {
    if (samples.size < 4_800) return false
    val (f, level) = readTone(samples)
    return abs(f - frequency) <= frequency * 0.03 && level >= minLevel
}

private val BARS = listOf(40, 100, 160, 220)

/** A [width] x [height] I420 frame of four grey bars. */
fun patternFrame(width: Int, height: Int, timestampUs: Long): UTDVideoFrame {
    val y = ByteArray(width * height) { i -> BARS[(i % width) * BARS.size / width].toByte() }
    val chroma = ByteArray(((width + 1) / 2) * ((height + 1) / 2)) { 128.toByte() }
    return UTDVideoFrame(
        width = width.toUInt(),
        height = height.toUInt(),
        format = UTDVideoPixelFormat.I420,
        planes = listOf(
            UTDVideoPlane(y, width.toUInt()),
            UTDVideoPlane(chroma, ((width + 1) / 2).toUInt()),
            UTDVideoPlane(chroma, ((width + 1) / 2).toUInt()),
        ),
        timestampUs = timestampUs,
        rotation = UTDVideoRotation.DEG0,
    )
}

/** Whether a received I420 frame of [width] x [height] shows the bars (each within [tolerance]). */
fun showsPattern(frame: UTDVideoFrame, width: Int, height: Int, tolerance: Int = 24): Boolean {
    if (frame.width.toInt() != width || frame.height.toInt() != height || frame.planes.isEmpty()) return false
    val plane = frame.planes[0]
    val stride = plane.stride.toInt()
    val bar = width / BARS.size
    return BARS.withIndex().all { (i, expected) ->
        var sum = 0L
        var n = 0
        for (row in height / 4 until height * 3 / 4) for (col in i * bar + bar / 4 until i * bar + bar * 3 / 4) {
            sum += plane.data[row * stride + col].toInt() and 0xff
            n++
        }
        abs((sum / n).toInt() - expected) <= tolerance
    }
}
