// Runs the Robolectric suite with JUnit 4 (no Gradle on these machines) and
// prints `robolectric: N passed, N failed` as its last line, which
// scripts/test-robolectric.sh and CI read.
//
// Usage: java ... com.utdstream.robolectric.RobolectricMainKt [test name filter...]
package com.utdstream.robolectric

import kotlin.system.exitProcess
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.manipulation.Filter
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

/** Every test class of the suite, in the order they run. */
private val SUITE = arrayOf(
    PushParsingTests::class.java,
    IncomingCallTests::class.java,
    UngrantedPhoneTests::class.java,
    CallEndTests::class.java,
    PushTokenTests::class.java,
    AudioRouteTests::class.java,
    HostSnippetTests::class.java,
)

private class SummaryListener : RunListener() {
    var passed = 0
    var failed = 0
    private val failures = mutableSetOf<Description>()
    private val started = mutableMapOf<Description, Long>()

    override fun testStarted(description: Description) {
        started[description] = System.nanoTime()
    }

    override fun testFailure(failure: Failure) {
        failures += failure.description
        println("FAIL ${failure.description.displayName}: ${failure.message}")
        println(failure.trace)
    }

    override fun testAssumptionFailure(failure: Failure) = testFailure(failure)

    override fun testFinished(description: Description) {
        val ms = (System.nanoTime() - (started[description] ?: System.nanoTime())) / 1_000_000
        if (description in failures) {
            failed++
        } else {
            passed++
            println("PASS ${description.displayName} ($ms ms)")
        }
    }

    override fun testIgnored(description: Description) {
        // An ignored test is a failure here: nothing may be skipped silently.
        failed++
        println("FAIL ${description.displayName}: ignored")
    }
}

fun main(args: Array<String>) {
    var request = Request.classes(*SUITE)
    if (args.isNotEmpty()) {
        request = request.filterWith(object : Filter() {
            override fun shouldRun(description: Description) =
                !description.isTest || args.any { description.displayName.contains(it) }

            override fun describe() = "tests named like ${args.toList()}"
        })
    }
    val listener = SummaryListener()
    val core = JUnitCore()
    core.addListener(listener)
    val result = core.run(request)
    if (result.runCount == 0 && listener.failed == 0) {
        println("no test matches ${args.toList()}")
        listener.failed = 1
    }
    // A class that could not start (initializationError) counts as failed.
    println("robolectric: ${listener.passed} passed, ${listener.failed} failed")
    System.out.flush()
    // The SDK's runtime and JNA threads must not keep the JVM alive.
    exitProcess(if (listener.failed == 0) 0 else 1)
}
