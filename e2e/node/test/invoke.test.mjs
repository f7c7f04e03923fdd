// Hub method invocation through the official client: results, errors, binding failures,
// concurrency, ordering and payload fidelity (protocol checklist §9–§11).

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Clients, recorder, rejectionOf, startServer, variantTest, variants, withTimeout } from "../lib/harness.mjs";

const T = { timeout: 20_000 };

for (const variant of variants()) {
  describe(`invoke over ${variant.name}`, () => {
    // Shadows node:test's test(): names end with the variant, e.g. "... [LongPolling/json]".
    const test = variantTest(variant);
    let server;
    const clients = new Clients(() => server, variant);
    before(async () => {
      server = await startServer();
    });
    afterEach(() => clients.stopAll());
    after(() => server?.stop());

    const invoke = (conn, method, ...args) =>
      withTimeout(conn.invoke(method, ...args), 5_000, `invoke ${method}`);

    test("Echo returns its argument", T, async () => {
      const conn = await clients.connect();
      assert.equal(await invoke(conn, "Echo", "hello"), "hello");
      assert.equal(await invoke(conn, "Echo", ""), "");
    });

    test("Add returns the sum", T, async () => {
      const conn = await clients.connect();
      assert.equal(await invoke(conn, "Add", 2, 3), 5);
      assert.equal(await invoke(conn, "Add", -40, 2), -38);
    });

    test("EchoValue round-trips arbitrary JSON values", T, async () => {
      const conn = await clients.connect();
      const values = [
        null,
        true,
        false,
        0,
        -7,
        2 ** 53 - 1,
        3.25,
        "text",
        [],
        [1, "two", null, [3]],
        {},
        { nested: { list: [1, 2, { deep: true }], s: "x", n: null }, "key with space": 1 },
      ];
      for (const value of values) {
        assert.deepEqual(await invoke(conn, "EchoValue", value), value, `EchoValue(${JSON.stringify(value)})`);
      }
    });

    test("non-ASCII strings round-trip", T, async () => {
      const conn = await clients.connect();
      for (const s of ["héllo ✓ 日本", "emoji 🎉👩‍💻", "ß\u00e9\u0301", "\u0000nul and \ttab\n"]) {
        assert.equal(await invoke(conn, "Echo", s), s);
      }
    });

    test("a string holding the record separator 0x1E round-trips", T, async () => {
      const conn = await clients.connect();
      const s = `before\x1eafter\x1e`;
      assert.equal(await invoke(conn, "Echo", s), s);
      // The connection is still in sync afterwards.
      assert.equal(await invoke(conn, "Add", 1, 1), 2);
    });

    test("method names match case-insensitively", T, async () => {
      const conn = await clients.connect();
      assert.equal(await invoke(conn, "echo", "a"), "a");
      assert.equal(await invoke(conn, "ECHO", "b"), "b");
      assert.equal(await invoke(conn, "aDd", 1, 2), 3);
    });

    // A HubError's message reaches the caller verbatim (our choice: the dispatch hub's
    // refusals must start with "Forbidden"), so the JS client adds only its own prefix.
    test("Throw surfaces the hub error's message verbatim", T, async () => {
      const conn = await clients.connect();
      const error = await rejectionOf(conn.invoke("Throw", "boom"), 5_000, "invoke Throw");
      assert.equal(error.message, "boom");
      assert.equal(await invoke(conn, "Echo", "still alive"), "still alive");
    });

    test("unknown method is an error completion and the connection stays open", T, async () => {
      const conn = await clients.connect();
      const error = await rejectionOf(conn.invoke("NoSuchMethod", 1), 5_000, "invoke NoSuchMethod");
      assert.equal(error.message, "Unknown hub method 'NoSuchMethod'");
      assert.equal(await invoke(conn, "Echo", "still alive"), "still alive");
      assert.equal(conn.events.length, 0, `unexpected connection events: ${JSON.stringify(conn.events)}`);
    });

    test("wrong argument count is an error completion and the connection stays open", T, async () => {
      const conn = await clients.connect();
      const tooFew = await rejectionOf(conn.invoke("Add", 1), 5_000, "invoke Add(1)");
      assert.match(tooFew.message, /^Failed to invoke 'Add'/);
      const tooMany = await rejectionOf(conn.invoke("Echo", "a", "b"), 5_000, "invoke Echo(a, b)");
      assert.match(tooMany.message, /^Failed to invoke 'Echo'/);
      assert.equal(await invoke(conn, "Add", 20, 22), 42);
    });

    test("wrong argument types are an error completion and the connection stays open", T, async () => {
      const conn = await clients.connect();
      const strings = await rejectionOf(conn.invoke("Add", "a", "b"), 5_000, 'invoke Add("a", "b")');
      assert.match(strings.message, /^Failed to invoke 'Add'/);
      const object = await rejectionOf(conn.invoke("Echo", { not: "a string" }), 5_000, "invoke Echo({})");
      assert.match(object.message, /^Failed to invoke 'Echo'/);
      assert.equal(await invoke(conn, "Echo", "ok"), "ok");
    });

    test("100 concurrent invocations on one connection all complete correctly", T, async () => {
      const conn = await clients.connect();
      const calls = [];
      for (let i = 0; i < 100; i++) {
        calls.push(i % 2 === 0 ? conn.invoke("Add", i, 1000) : conn.invoke("Echo", `message ${i}`));
      }
      const results = await withTimeout(Promise.all(calls), 15_000, "100 concurrent invocations");
      results.forEach((result, i) => {
        assert.deepEqual(result, i % 2 === 0 ? i + 1000 : `message ${i}`, `invocation #${i}`);
      });
    });

    test("SendMany delivers Numbered(0..n-1) in order before the result", T, async () => {
      const conn = await clients.connect();
      const numbered = recorder(conn, "Numbered");
      const count = 50;
      const result = await invoke(conn, "SendMany", count);
      assert.equal(result, count);
      // Sent on the same connection before the Completion, so all must already be here.
      assert.deepEqual(
        numbered.calls.map((args) => args),
        Array.from({ length: count }, (_, i) => [i]),
      );
    });

    test("send() (no invocation id) runs the method without a reply", T, async () => {
      const conn = await clients.connect();
      const all = recorder(conn, "AllMessage");
      await withTimeout(conn.send("SendToAll", "fire and forget"), 5_000, "send SendToAll");
      const [[message]] = await all.waitFor(1);
      assert.equal(message, "fire and forget");
      // Unknown methods over send() produce nothing at all, and the connection carries on.
      await withTimeout(conn.send("NoSuchMethod"), 5_000, "send NoSuchMethod");
      assert.equal(await invoke(conn, "Echo", "after"), "after");
      assert.equal(conn.events.length, 0, `unexpected connection events: ${JSON.stringify(conn.events)}`);
    });

    test("GetConnectionId is the client's public connectionId", T, async () => {
      const conn = await clients.connect();
      assert.equal(typeof conn.connectionId, "string");
      assert.equal(await invoke(conn, "GetConnectionId"), conn.connectionId);
    });

    test("GetUser is null when anonymous and the token's user otherwise", T, async () => {
      const anonymous = await clients.connect();
      assert.equal(await invoke(anonymous, "GetUser"), null);
      const bob = await clients.connect({ token: "user:bob" });
      assert.equal(await invoke(bob, "GetUser"), "bob");
    });

    test("a 20 KB argument below the default 32 KB limit works", T, async () => {
      const conn = await clients.connect();
      const big = "x".repeat(20_000);
      assert.equal(await invoke(conn, "Echo", big), big);
    });
  });
}
