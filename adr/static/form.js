/* Optional help on the report form: hide questions that do not apply, send once.
   Everything works without it. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");  // not the sign-out form of staff pages
  if (!form) return;
  var cells = form.querySelectorAll("[data-show-when]");

  function isOn(el) {
    return el.type === "radio" || el.type === "checkbox" ? el.checked : el.value !== "";
  }
  function chosen(name) {
    var values = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
      if (isOn(el)) values.push(el.value);
    });
    return values;
  }
  // Never hide what a person typed or what they must correct.
  function keep(cell) {
    return cell.classList.contains("has-error") ||
      Array.prototype.some.call(cell.querySelectorAll("input, select, textarea"), isOn);
  }
  function update() {
    cells.forEach(function (cell) {
      var rule = /^([\w-]+)(!?=)(.*)$/.exec(cell.getAttribute("data-show-when"));
      if (!rule) return;
      var wanted = rule[3].split(",");
      var match = chosen(rule[1]).some(function (v) { return wanted.indexOf(v) >= 0; });
      cell.hidden = !(rule[2] === "=" ? match : !match) && !keep(cell);
    });
  }
  form.addEventListener("change", update);
  update();

  // One click sends once: a second click while the first is on its way does nothing.
  form.addEventListener("submit", function (event) {
    if (form.dataset.sending) event.preventDefault();
    else if (!event.submitter || event.submitter.name !== "add_drug") form.dataset.sending = "1";
  });
})();
