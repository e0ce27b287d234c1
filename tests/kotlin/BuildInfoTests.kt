// SDK version and build facts, checked against what the build script knows.
package com.utdstream.tests

import com.utdstream.sdk.buildInfo
import com.utdstream.sdk.sdkVersion
import kotlin.test.assertEquals

/** A fact scripts/test-kotlin.sh passes as `-D<name>=...`; required. */
internal fun expectedProperty(name: String): String =
    System.getProperty(name) ?: error("-D$name is not set (run the tests through scripts/test-kotlin.sh)")

fun registerBuildInfoTests(suite: TestSuite) {
    suite.test("build info: version and target are those of the library under test") {
        val info = buildInfo()
        // The package version from Cargo.toml, read independently by the script.
        assertEquals(expectedProperty("utd.expectedVersion"), info.version)
        assertEquals(info.version, sdkVersion())
        assertEquals(expectedProperty("utd.expectedTarget"), info.target)
        assertEquals(expectedProperty("utd.expectedProfile"), info.profile)
    }
}
