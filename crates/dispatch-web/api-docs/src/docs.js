// The API reference page: Swagger UI (swagger-ui-dist, vendored; see ../README.md) rendering the
// document this service serves. Nothing is loaded from anywhere else: no validator badge, no
// fonts, no analytics. "Authorize" takes a pasted bearer token; a console session of this tab
// (sessionStorage, the same origin) is used when there is one.

(function () {
  "use strict";

  /** The console's session token (crates/dispatch-web/web/src/session.ts), if still valid. */
  function consoleToken() {
    try {
      var session = JSON.parse(window.sessionStorage.getItem("dispatch.session") || "null");
      if (session && typeof session.token === "string" && session.exp * 1000 > Date.now()) return session.token;
    } catch (ignored) {
      // no usable session
    }
    return null;
  }

  var ui = window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayOperationId: true,
    displayRequestDuration: true,
    filter: true,
    persistAuthorization: true,
    tryItOutEnabled: true,
    validatorUrl: null,
    onComplete: function () {
      var token = consoleToken();
      if (token) ui.preauthorizeApiKey("bearer", token);
    },
  });
  window.ui = ui;
})();
