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
// Group purchases: the figures follow the commitments while the page is open (every 15 s).
(function () {
  var box = document.querySelector("[data-live-figures]");
  if (!box || !window.fetch) return;
  var money = new Intl.NumberFormat("fr-FR", {style: "currency", currency: "EUR"});
  var count = new Intl.NumberFormat("fr-FR");
  function set(name, text) {
    box.querySelectorAll('[data-figure="' + name + '"]').forEach(function (el) { el.textContent = text; });
  }
  function refresh() {
    fetch(box.getAttribute("data-live-figures"), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (f) {
        if (!f) return;
        set("member_count", count.format(f.member_count));
        set("total_units", count.format(f.total_units));
        ["unit_price_ht_cents", "total_ht_cents", "saving_ht_cents"].forEach(function (k) { set(k, money.format(f[k] / 100)); });
        set("current_tier_label", f.current_tier ? "palier " + f.current_tier : "prix catalogue");
      });
  }
  setInterval(refresh, 15000);
})();
