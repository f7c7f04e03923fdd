#!/usr/bin/env node
// Prints the raw WebSocket frames of one JSON hub connection, for bug reports.
//
//   node tools/wire-trace.mjs [options] [MESSAGE]...
//
// Spawns the interop server (INTEROP_SERVER_BIN, as the suites do) unless --url is given,
// negotiates v1 on the hub, opens the WebSocket, sends the JSON handshake, then sends each
// MESSAGE (a JSON hub message; the 0x1E terminator is added) and prints every frame both ways
// until --wait-ms passes after the last one.
//
// Options:
//   --url http://127.0.0.1:PORT   use a running server instead of spawning one
//   --hub /hub                    hub path (default /hub)
//   --token user:alice            bearer token (header on negotiate and upgrade)
//   --wait-ms 500                 how long to listen after the last message
//   --server-arg ARG              extra server flag, repeatable (e.g. --server-arg --keep-alive-ms
//                                 --server-arg 500)
//
// Example:
//   node tools/wire-trace.mjs '{"type":1,"invocationId":"1","target":"Throw","arguments":["boom"]}'

import { RS, rawWebSocket, sleep, startServer } from "../lib/harness.mjs";

const argv = process.argv.slice(2);
const options = { hub: "/hub", waitMs: 500, serverArgs: [], messages: [] };
while (argv.length > 0) {
  const arg = argv.shift();
  if (arg === "--url") options.url = argv.shift();
  else if (arg === "--hub") options.hub = argv.shift();
  else if (arg === "--token") options.token = argv.shift();
  else if (arg === "--wait-ms") options.waitMs = Number(argv.shift());
  else if (arg === "--server-arg") options.serverArgs.push(argv.shift());
  else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
  else options.messages.push(arg);
}

const server = options.url
  ? { url: (p) => `${options.url}${p}`, wsUrl: (p) => `${options.url.replace(/^http/, "ws")}${p}`, stop: async () => {} }
  : await startServer({ extraArgs: options.serverArgs });

const show = (direction, data) => console.log(`${direction} ${JSON.stringify(data)}`);
const headers = options.token ? { Authorization: `Bearer ${options.token}` } : {};
try {
  const negotiateUrl = server.url(`${options.hub}/negotiate?negotiateVersion=1`);
  const res = await fetch(negotiateUrl, { method: "POST", headers });
  const body = await res.text();
  console.log(`POST ${negotiateUrl} -> ${res.status} ${body}`);
  if (res.status !== 200) process.exit(1);
  const { connectionToken } = JSON.parse(body);
  const socket = await rawWebSocket(server.wsUrl(`${options.hub}?id=${connectionToken}`), { headers });
  let shown = 0;
  const flush = () => {
    for (; shown < socket.frames.length; shown++) {
      const frame = socket.frames[shown];
      show(frame.binary ? "<< binary" : "<< text", frame.binary ? frame.data.toString("hex") : frame.data);
    }
  };
  for (const message of [`{"protocol":"json","version":1}`, ...options.messages]) {
    show(">> text", message + RS);
    socket.send(message + RS);
    await sleep(50);
    flush();
  }
  await sleep(options.waitMs);
  flush();
  const closed = await Promise.race([socket.closed, sleep(0).then(() => null)]);
  console.log(closed ? `socket closed by server: code ${closed.code} reason ${JSON.stringify(closed.reason)}` : "socket still open");
  socket.close();
} finally {
  await server.stop();
}
