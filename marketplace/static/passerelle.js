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
