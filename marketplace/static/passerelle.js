// Progressive enhancements: the pages work without them.
(function () {
  // Commune autocomplete on the public territories API.
  document.querySelectorAll("[data-autocomplete-communes]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2 || /— \w{5}$/.test(q)) return;
      timer = setTimeout(function () {
        fetch("/api/v1/territories/communes?limit=10&q=" + encodeURIComponent(q))
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.innerHTML = "";
            items.forEach(function (c) {
              var option = document.createElement("option");
              option.value = c.label + " — " + c.insee;
              list.appendChild(option);
            });
          });
      }, 150);
    });
  });
})();
// Contract interviews: the preview follows what is typed (the page's own "next step" also shows it).
(function () {
  var form = document.querySelector("form[data-preview-url]");
  var target = document.getElementById("apercu");
  if (!form || !target || !window.fetch) return;
  var timer = null;
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      fetch(form.getAttribute("data-preview-url"), {method: "POST", body: new FormData(form), credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; });
    }, 400);
  }
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
})();
