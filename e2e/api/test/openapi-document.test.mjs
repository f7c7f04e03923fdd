// The OpenAPI document the real service serves, checked by tools that did not write it:
//
// * @seriousme/openapi-schema-validator (the OpenAPI 3.1 JSON Schema, with every $ref resolved):
//   any error fails the test, and is printed with its JSON path;
// * the house rules an integrator relies on, read from the document itself: unique operation ids,
//   a description on every response, /api/v1 errors as application/problem+json with the Problem schema,
//   an example on every request body, the bearer scheme, and each secured operation's roles.
//
// The generated-client tests beside this one then drive the service through the same document.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { startDispatch } from "../lib/service.mjs";

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
const ROLES = new Set(["admin", "dispatcher", "contractor"]);

let service;
let document;

before(async () => {
  service = await startDispatch();
  const response = await fetch(`${service.base}/api/v1/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  document = await response.json();
});

after(async () => {
  await service?.stop();
});

/** Every operation as [method, path, operation]. */
function operations() {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => [method, path, item[method]]),
  );
}

test("the served document is valid OpenAPI 3.1 (independent validator)", async () => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document));
  const errors = (result.errors ?? []).map((error) => `${error.instancePath || "/"}: ${error.message} ${JSON.stringify(error.params)}`);
  assert.deepEqual(errors, [], `${errors.length} validation errors`);
  assert.equal(result.valid, true);
  assert.equal(validator.version, "3.1");
  // Every $ref resolves.
  assert.doesNotThrow(() => validator.resolveRefs());
});

test("every operation has a unique id, a summary and its security", () => {
  const ids = new Map();
  for (const [method, path, operation] of operations()) {
    const where = `${method.toUpperCase()} ${path}`;
    assert.ok(operation.operationId, `${where}: operationId`);
    assert.ok(!ids.has(operation.operationId), `${where}: operationId ${operation.operationId} also on ${ids.get(operation.operationId)}`);
    ids.set(operation.operationId, where);
    assert.ok(operation.summary?.trim(), `${where}: summary`);
    assert.ok(operation.tags?.length, `${where}: tag`);
    const security = operation.security ?? document.security;
    assert.ok(Array.isArray(security) && security.length > 0, `${where}: security`);
  }
  assert.ok(ids.size >= 25, `${ids.size} operations`);
});

test("the bearer scheme is declared and each secured operation names its roles", () => {
  const scheme = document.components.securitySchemes.bearer;
  assert.equal(scheme.type, "http");
  assert.equal(scheme.scheme, "bearer");
  assert.equal(scheme.bearerFormat, "JWT");
  for (const [method, path, operation] of operations()) {
    const where = `${method.toUpperCase()} ${path}`;
    const security = operation.security ?? document.security;
    const isPublic = security.some((requirement) => Object.keys(requirement).length === 0);
    if (isPublic) {
      assert.ok(!path.startsWith("/api/v1/") || path === "/api/v1/openapi.json" || path === "/api/v1/docs", `${where} is public`);
      continue;
    }
    assert.equal(security.length, 1, `${where}: one requirement`);
    const roles = security[0].bearer;
    assert.ok(Array.isArray(roles) && roles.length > 0, `${where}: roles in the bearer requirement`);
    for (const role of roles) assert.ok(ROLES.has(role), `${where}: unknown role ${role}`);
    assert.match(operation.description ?? "", /Roles: /, `${where}: roles in the description`);
    for (const role of roles) assert.ok(operation.description.includes(`\`${role}\``), `${where}: description names ${role}`);
    assert.ok(operation.responses["401"], `${where}: documents 401`);
  }
});

test("every response is described; every problem is application/problem+json with the Problem schema", () => {
  let problems = 0;
  for (const [method, path, operation] of operations()) {
    for (const [status, response] of Object.entries(operation.responses)) {
      const where = `${method.toUpperCase()} ${path} → ${status}`;
      assert.ok(typeof response.description === "string" && response.description.trim(), `${where}: description`);
      // /readyz answers 503 with its readiness body, for load balancers; every /api/v1 error is a problem.
      if (Number(status) >= 400 && path.startsWith("/api/")) {
        problems += 1;
        assert.deepEqual(Object.keys(response.content ?? {}), ["application/problem+json"], `${where}: media type`);
        // The Problem schema, or one extending it with members of its own (RFC 9457 §3.2).
        const ref = response.content["application/problem+json"].schema?.$ref ?? "";
        assert.ok(ref.startsWith("#/components/schemas/"), `${where}: schema is a component`);
        if (ref !== "#/components/schemas/Problem") {
          const schema = document.components.schemas[ref.split("/").pop()];
          for (const name of ["detail", "status", "title", "type"]) {
            assert.ok(schema?.required?.includes(name), `${where}: ${ref} extends Problem (requires ${name})`);
          }
        }
      }
    }
  }
  assert.ok(problems > 100, `${problems} problem responses`);
  const problem = document.components.schemas.Problem;
  assert.deepEqual([...problem.required].sort(), ["detail", "status", "title", "type"]);
});

test("every request body has an example that names only the schema's properties (NDJSON: lines of JSON objects)", () => {
  let bodies = 0;
  for (const [method, path, operation] of operations()) {
    if (!operation.requestBody) continue;
    bodies += 1;
    const where = `${method.toUpperCase()} ${path}`;
    const ndjson = operation.requestBody.content?.["application/x-ndjson"];
    if (ndjson) {
      // A stream of JSON objects, one per line: the example is such a text.
      assert.equal(typeof ndjson.example, "string", `${where}: NDJSON example`);
      const lines = ndjson.example.split("\n").filter((line) => line.trim());
      assert.ok(lines.length > 0, `${where}: NDJSON example has a line`);
      for (const line of lines) assert.equal(typeof JSON.parse(line), "object", `${where}: NDJSON line is an object`);
      continue;
    }
    const media = operation.requestBody.content?.["application/json"];
    assert.ok(media, `${where}: application/json body`);
    const example = media.example ?? Object.values(media.examples ?? {})[0]?.value;
    assert.ok(example && typeof example === "object", `${where}: example`);
    const ref = media.schema?.$ref;
    assert.ok(ref, `${where}: body schema is a component`);
    const schema = document.components.schemas[ref.split("/").pop()];
    for (const name of schema.required ?? []) assert.ok(name in example, `${where}: example has required ${name}`);
    for (const name of Object.keys(example)) assert.ok(name in (schema.properties ?? {}), `${where}: example's ${name} is a property`);
  }
  assert.ok(bodies >= 8, `${bodies} request bodies`);
});

test("the SPEC's endpoints and the event schemas are in it", () => {
  const expected = [
    ["post", "/api/v1/regions"], ["get", "/api/v1/regions"], ["get", "/api/v1/regions/{id}"],
    ["post", "/api/v1/contractors"], ["get", "/api/v1/contractors/{id}"], ["put", "/api/v1/contractors/{id}"],
    ["post", "/api/v1/contractors/{id}/time-off"], ["get", "/api/v1/contractors/{id}/assignments"],
    ["post", "/api/v1/jobs"], ["get", "/api/v1/jobs"], ["get", "/api/v1/jobs/{id}"], ["post", "/api/v1/jobs/{id}/cancel"],
    ["post", "/api/v1/recommendations"], ["get", "/api/v1/recommendations/{id}"],
    ["post", "/api/v1/assignments"], ["get", "/api/v1/assignments/{id}"], ["delete", "/api/v1/assignments/{id}"],
    ["get", "/api/v1/audit/{id}"],
    ["get", "/api/v1/config"], ["put", "/api/v1/config"], ["get", "/api/v1/config/{version}"],
    ["get", "/healthz"], ["get", "/readyz"], ["get", "/metrics"], ["get", "/api/v1/openapi.json"], ["get", "/api/v1/docs"],
  ];
  for (const [method, path] of expected) assert.ok(document.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  for (const name of ["RecommendationReady", "JobAssigned", "Problem"]) assert.ok(document.components.schemas[name], name);
  assert.match(document.info.description, /\/hub\/v1/);
});
