// A small test runner for the Kotlin tests: no JUnit or Gradle on these
// machines, only kotlinc and the jars in the Kotlin distribution.
//
// Each test file adds its tests with a `register…Tests(suite)` function listed
// in `main` below. Tests run one at a time, in registration order (the SDK's
// log forwarding is process-wide, so parallel tests would see each other's
// records). The last line is `kotlin: N passed, N failed`, which
// scripts/test-kotlin.sh and CI read; the exit status is 1 on any failure.
//
// Usage: java ... com.utdstream.tests.TestRunnerKt [name filter...]
package com.utdstream.tests

import kotlin.system.exitProcess
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

/** One named test; `run` throws to fail. */
class TestCase(val name: String, val run: () -> Unit)

/** Where tests register themselves. */
class TestSuite {
    val tests = mutableListOf<TestCase>()

    /** A plain blocking test. */
    fun test(name: String, body: () -> Unit) {
        require(tests.none { it.name == name }) { "duplicate test name: $name" }
        tests += TestCase(name, body)
    }

    /**
     * A test that awaits suspend calls (the SDK's async functions) from a
     * coroutine. It fails if it does not finish within [timeout].
     */
    fun asyncTest(name: String, timeout: Duration = 30.seconds, body: suspend CoroutineScope.() -> Unit) {
        test(name) { runBlocking { withTimeout(timeout) { body() } } }
    }
}

fun main(args: Array<String>) {
    val suite = TestSuite()
    registerTypeTests(suite)
    registerErrorTests(suite)
    registerBuildInfoTests(suite)
    registerLoggingTests(suite)
    registerClientTests(suite)
    registerStackTests(suite)
    registerSignallingScenarioTests(suite)
    registerRoomScenarioTests(suite)
    registerCallScenarioTests(suite)
    registerColdStartTests(suite)
    registerChatScenarioTests(suite)

    val selected = if (args.isEmpty()) suite.tests else suite.tests.filter { t -> args.any { t.name.contains(it) } }
    if (selected.isEmpty()) {
        // A filter that matches nothing must not look like a green run.
        println("no test matches ${args.toList()}")
        println("kotlin: 0 passed, 1 failed")
        exitProcess(1)
    }
    var passed = 0
    var failed = 0
    for (test in selected) {
        val started = TimeSource.Monotonic.markNow()
        try {
            test.run()
            passed++
            println("PASS ${test.name} (${started.elapsedNow().inWholeMilliseconds} ms)")
        } catch (t: Throwable) {
            failed++
            println("FAIL ${test.name} (${started.elapsedNow().inWholeMilliseconds} ms): $t")
            t.printStackTrace(System.out)
        }
    }
    println("kotlin: $passed passed, $failed failed")
    System.out.flush()
    // exitProcess rather than returning: the SDK's runtime and JNA callback
    // threads must not keep the JVM alive after the last test.
    exitProcess(if (failed == 0) 0 else 1)
}
