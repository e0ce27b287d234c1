// The utd-stack harness itself, as scenario tests (issue 3) use it: the real
// engine from UTD_STACK_ENV answers, and the control endpoint stops and
// restarts it on the same URL.
package com.utdstream.tests

import com.utdstream.sdk.UTDErrorCode
import com.utdstream.sdk.UTDStreamClient
import com.utdstream.sdk.UTDStreamException
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

fun registerStackTests(suite: TestSuite) {
    suite.test("stack: the engine stops and comes back on the same URL through the control endpoint") {
        val stack = StackEnv.require()
        val health = stack.engineUrl.trimEnd('/') + "/api/v1/health"
        val (status, body) = httpGet(health)
        assertEquals(200, status, body)
        assertTrue(body.contains("\"ok\""), body)
        try {
            stack.stopEngine()
            assertFailsWith<java.io.IOException>("the engine is down") { httpGet(health) }
        } finally {
            // Later tests need the engine whatever happened above.
            stack.startEngine()
        }
        assertEquals(200, httpGet(health).first)
    }

    suite.asyncTest("stack: the real engine refuses an unknown app as UNAUTHENTICATED (401)") {
        val stack = StackEnv.require()
        val client = UTDStreamClient("app_does_not_exist", "pk_wrong", stack.engineUrl)
        try {
            val error = assertFailsWith<UTDStreamException> { client.authenticate("alice") }
            assertEquals(UTDErrorCode.UNAUTHENTICATED, error.code())
            assertEquals(401.toUShort(), error.statusCode())
            assertEquals("unauthenticated", error.engineCode())
        } finally {
            client.dispose()
        }
    }
}
