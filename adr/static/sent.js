/* The confirmation page: the report sent from a draft (form.js) has arrived, so its copy goes;
   the reference can be copied with a button (without script, it is selected by a long press). */
(function () {
  "use strict";
  try {
    Object.keys(localStorage).forEach(function (key) {
      if (key.indexOf("adr-draft:") === 0 && /"sending":true/.test(localStorage.getItem(key))) {
        localStorage.removeItem(key);
      }
    });
  } catch (e) { /* no storage, no draft */ }

  var reference = document.getElementById("report-reference");
  var button = document.getElementById("copy-reference");
  var status = document.getElementById("copy-status");
  if (!reference || !button) return;
  document.getElementById("copy").hidden = false;

  function say(text) {
    status.textContent = "";  // the same words again are announced again
    setTimeout(function () { status.textContent = text; }, 50);
  }
  function selectReference() {
    window.getSelection().selectAllChildren(reference);
    say(button.getAttribute("data-selected"));
  }
  button.addEventListener("click", function () {
    var text = reference.textContent.trim();
    if (!navigator.clipboard || !navigator.clipboard.writeText) return selectReference();
    navigator.clipboard.writeText(text).then(function () {
      say(button.getAttribute("data-copied"));
    }, selectReference);
  });
})();
