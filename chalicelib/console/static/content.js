// 素材库 form (issue 13): show only the fields the chosen kind uses. Without JavaScript every field shows and the
// server says which are needed; this only hides the others. Vendored, no dependencies.
(function () {
  "use strict";
  var form = document.querySelector("form[data-content-form]");
  if (!form) { return; }
  var uses = {
    text: ["text"],
    image: ["file"],
    file: ["file"],
    link: ["text", "url", "picurl"],
    miniprogram: ["appid", "page", "file"]
  };
  var optional = ["text", "url", "picurl", "appid", "page", "file"];
  var select = form.querySelector("select[name=kind]");
  function show() {
    var kind = select ? select.value : form.getAttribute("data-kind");
    var wanted = uses[kind] || optional;
    optional.forEach(function (name) {
      var input = form.querySelector("[name=" + name + "]");
      var field = input && input.closest(".field");
      if (field) { field.hidden = wanted.indexOf(name) < 0; }
    });
  }
  if (select) { select.addEventListener("change", show); }
  show();
})();
