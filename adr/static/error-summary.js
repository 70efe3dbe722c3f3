/* Move the focus to the error summary of a refused form, so that the reader starts there. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
