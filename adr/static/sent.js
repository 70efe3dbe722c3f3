/* The confirmation page: the report sent from a draft (form.js) has arrived, so its copy goes. */
(function () {
  "use strict";
  try {
    Object.keys(localStorage).forEach(function (key) {
      if (key.indexOf("adr-draft:") === 0 && /"sending":true/.test(localStorage.getItem(key))) {
        localStorage.removeItem(key);
      }
    });
  } catch (e) { /* no storage, no draft */ }
})();
