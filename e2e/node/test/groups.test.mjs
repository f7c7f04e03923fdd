// Groups, users, all and single-connection sends through the official client (checklist §15).
//
// "Did not receive" is checked without sleeping: after the message under test, the sender calls
// SendToAll with a sentinel. The server handles one caller's invocations in order and each
// connection's outgoing messages stay in order, so once a connection has the sentinel it would
// already have the message under test, had it been sent to it.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Clients, assertVariant, recorder, startServer, variantTest, variants, withTimeout } from "../lib/harness.mjs";

const T = { timeout: 20_000 };

/** Void methods complete with no result or with `null` (.NET writes `"result":null`). */
function assertVoid(result) {
  assert.ok(result === undefined || result === null, `void method returned ${JSON.stringify(result)}`);
}

for (const variant of variants()) {
  describe(`groups and users over ${variant.name}`, () => {
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

    /** Connects and records the client methods the hub can call. */
    async function connectRecording(options) {
      const conn = await clients.build(options);
      const rec = {
        group: recorder(conn, "GroupMessage"),
        user: recorder(conn, "UserMessage"),
        all: recorder(conn, "AllMessage"),
        direct: recorder(conn, "DirectMessage"),
      };
      await withTimeout(conn.start(), 10_000, "start()");
      assertVariant(conn, variant);
      return { conn, ...rec };
    }

    /** Sends a sentinel to all and waits until every listed connection has it. */
    async function barrier(sender, receivers, tag) {
      await invoke(sender, "SendToAll", `sentinel ${tag}`);
      for (const r of receivers) {
        await withTimeout(
          (async () => {
            while (!r.all.calls.some(([m]) => m === `sentinel ${tag}`)) await new Promise((res) => setTimeout(res, 10));
          })(),
          5_000,
          `sentinel ${tag}`,
        );
      }
    }

    test("group messages reach members only, and stop after LeaveGroup", T, async () => {
      const a = await connectRecording();
      const b = await connectRecording();
      const outsider = await connectRecording();
      const sender = await connectRecording();
      await invoke(a.conn, "JoinGroup", "room1");
      await invoke(b.conn, "JoinGroup", "room1");
      await invoke(outsider.conn, "JoinGroup", "room2");

      await invoke(sender.conn, "SendToGroup", "room1", "first");
      assert.deepEqual(await a.group.waitFor(1), [["room1", "first"]]);
      assert.deepEqual(await b.group.waitFor(1), [["room1", "first"]]);
      await barrier(sender.conn, [a, b, outsider, sender], 1);
      assert.deepEqual(outsider.group.calls, [], "a member of another group received room1's message");
      assert.deepEqual(sender.group.calls, [], "the non-member sender received the group message");

      await invoke(b.conn, "LeaveGroup", "room1");
      await invoke(sender.conn, "SendToGroup", "room1", "second");
      assert.deepEqual(await a.group.waitFor(2), [
        ["room1", "first"],
        ["room1", "second"],
      ]);
      await barrier(sender.conn, [a, b, outsider], 2);
      assert.deepEqual(b.group.calls, [["room1", "first"]], "received a group message after LeaveGroup");
      assert.deepEqual(outsider.group.calls, []);
    });

    test("a member can send to its own group and receives the message too", T, async () => {
      const a = await connectRecording();
      await invoke(a.conn, "JoinGroup", "self");
      await invoke(a.conn, "SendToGroup", "self", "echo");
      assert.deepEqual(await a.group.waitFor(1), [["self", "echo"]]);
    });

    test("joining twice delivers once; group names are case-sensitive", T, async () => {
      const a = await connectRecording();
      const sender = await connectRecording();
      await invoke(a.conn, "JoinGroup", "Dup");
      await invoke(a.conn, "JoinGroup", "Dup");
      await invoke(sender.conn, "SendToGroup", "Dup", "once");
      await invoke(sender.conn, "SendToGroup", "dup", "other case");
      await barrier(sender.conn, [a], 1);
      assert.deepEqual(a.group.calls, [["Dup", "once"]]);
    });

    test("leaving a group one is not in, and sending to an empty group, are harmless", T, async () => {
      const a = await connectRecording();
      assertVoid(await invoke(a.conn, "LeaveGroup", "never-joined"));
      assertVoid(await invoke(a.conn, "SendToGroup", "nobody-here", "x"));
      assert.equal(await invoke(a.conn, "Echo", "fine"), "fine");
    });

    test("a stopped member is dropped from its groups without breaking delivery", T, async () => {
      const gone = await connectRecording();
      const stays = await connectRecording();
      await invoke(gone.conn, "JoinGroup", "g");
      await invoke(stays.conn, "JoinGroup", "g");
      await withTimeout(gone.conn.stop(), 5_000, "stop()");
      await invoke(stays.conn, "SendToGroup", "g", "after stop");
      assert.deepEqual(await stays.group.waitFor(1), [["g", "after stop"]]);
    });

    test("SendToUser reaches every connection of that user and nobody else", T, async () => {
      const alice1 = await connectRecording({ token: "user:alice" });
      const alice2 = await connectRecording({ token: "user:alice" });
      const bob = await connectRecording({ token: "user:bob" });
      const anonymous = await connectRecording();
      await invoke(bob.conn, "SendToUser", "alice", "hi alice");
      assert.deepEqual(await alice1.user.waitFor(1), [["hi alice"]]);
      assert.deepEqual(await alice2.user.waitFor(1), [["hi alice"]]);
      await barrier(bob.conn, [alice1, alice2, bob, anonymous], 1);
      assert.deepEqual(bob.user.calls, []);
      assert.deepEqual(anonymous.user.calls, []);
      assert.equal(alice1.user.calls.length, 1, "delivered more than once");
      assert.equal(alice2.user.calls.length, 1, "delivered more than once");
    });

    test("SendToUser also works on /authhub", T, async () => {
      const alice = await connectRecording({ hub: "/authhub", token: "user:alice" });
      const carol = await connectRecording({ hub: "/authhub", token: "user:carol" });
      await invoke(carol.conn, "SendToUser", "alice", "via authhub");
      assert.deepEqual(await alice.user.waitFor(1), [["via authhub"]]);
      await barrier(carol.conn, [alice, carol], 1);
      assert.deepEqual(carol.user.calls, []);
    });

    test("SendToAll reaches every connection of the hub, the caller included", T, async () => {
      const a = await connectRecording();
      const b = await connectRecording({ token: "user:zed" });
      await invoke(a.conn, "SendToAll", "broadcast");
      assert.deepEqual(await a.all.waitFor(1), [["broadcast"]]);
      assert.deepEqual(await b.all.waitFor(1), [["broadcast"]]);
    });

    test("SendToConnection reaches exactly that connection", T, async () => {
      const target = await connectRecording();
      const other = await connectRecording();
      const sender = await connectRecording();
      const id = await invoke(target.conn, "GetConnectionId");
      await invoke(sender.conn, "SendToConnection", id, "just you");
      assert.deepEqual(await target.direct.waitFor(1), [["just you"]]);
      await barrier(sender.conn, [target, other, sender], 1);
      assert.deepEqual(other.direct.calls, []);
      assert.deepEqual(sender.direct.calls, []);
    });

    test("SendToConnection with an unknown id does nothing", T, async () => {
      const sender = await connectRecording();
      assertVoid(await invoke(sender.conn, "SendToConnection", "no-such-connection", "lost"));
      assert.equal(await invoke(sender.conn, "Echo", "fine"), "fine");
    });
  });
}
