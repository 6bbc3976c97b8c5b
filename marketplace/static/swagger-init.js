// The API documentation page: Swagger UI on the OpenAPI document, settings read from the page.
(function () {
  var container = document.getElementById("swagger-ui-container");
  var config = JSON.parse(container.getAttribute("data-config") || "{}");
  config.url = container.getAttribute("data-spec-url");
  config.dom_id = "#swagger-ui-container";
  window.ui = SwaggerUIBundle(config);
})();
