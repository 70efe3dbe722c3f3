/* The staff workspace's help. Everything works without it; with it:
   - nothing typed is lost: a form changed and not saved is named in a notice, leaving the page
     asks first (beforeunload), and saving another form asks first, then keeps the unsaved
     values in this tab (sessionStorage) and puts them back after the save, marked not saved;
   - the assessment shows the invalid reason and the original's reference only when the status
     asks for them;
   - keyboard shortcuts in the queue and on a case (the list under "?"), and "save and open the
     next case" of the list the reviewer came from. */
(function () {
  "use strict";
  // Kept per case page, whichever address answered (a refused save answers at its own).
  var summary = document.getElementById("summary");
  var KEPT = "adr-unsaved:" + (summary ? summary.dataset.reference : location.pathname);
  var QUEUE = "adr-queue";
  var KEEP_MINUTES = 10;
  var zh = document.documentElement.lang !== "en";
  var text = zh ? {
    unsaved: "尚未保存的修改:",
    kept: "保存前在这些部分输入的内容已保留在页面上,但尚未保存:",
    lost: "这些部分已不在页面上,保存前输入的内容无法恢复:",
    ask: "以下部分有尚未保存的修改:%s。\n继续保存本部分?其他部分的修改会保留在页面上,但不会保存。",
    form: "表单"
  } : {
    unsaved: "Changes not saved yet:",
    kept: "What you had typed in these sections is kept on the page, not saved yet:",
    lost: "These sections are no longer on the page; what you had typed there could not be put back:",
    ask: "These sections have changes not saved: %s.\nSave this one now? The other changes stay on the page, not saved.",
    form: "form"
  };
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }
  var store = storage();

  // What a form holds, as [name, value] pairs; boxes and radios only when ticked.
  function values(form) {
    var pairs = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || /^(hidden|submit|button|file|reset)$/.test(el.type)) return;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      if (el.type === "select-multiple") {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { pairs.push([el.name, o.value]); });
        return;
      }
      pairs.push([el.name, el.value]);
    });
    return pairs;
  }
  function restore(form, pairs) {
    var byName = {};
    pairs.forEach(function (p) { (byName[p[0]] = byName[p[0]] || []).push(p[1]); });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || /^(hidden|submit|button|file|reset)$/.test(el.type)) return;
      var wanted = byName[el.name] || [];
      if (el.type === "checkbox" || el.type === "radio") el.checked = wanted.indexOf(el.value) >= 0;
      else if (el.type === "select-multiple") {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = wanted.indexOf(o.value) >= 0; });
      } else if (wanted.length) el.value = wanted.shift();
    });
  }

  // The forms that save something: every POST form but signing out.
  var forms = Array.prototype.filter.call(document.forms, function (f) {
    return f.method === "post" && !/\/logout$/.test(f.getAttribute("action") || "");
  });
  function key(form) {
    if (form.id) return "#" + form.id;
    var action = form.getAttribute("action");
    var same = forms.filter(function (f) { return f.getAttribute("action") === action; });
    return action + "|" + same.indexOf(form);
  }
  function title(form) {
    if (form.dataset.title) return form.dataset.title;
    var section = form.closest("section, fieldset, header, details");
    var heading = section && section.querySelector("h2, h3, legend, summary");
    return heading ? heading.textContent.trim() : text.form;
  }
  var initial = new Map();
  forms.forEach(function (f) { initial.set(f, JSON.stringify(values(f))); });
  function dirty(form) { return JSON.stringify(values(form)) !== initial.get(form); }
  function dirtyForms(except) {
    return forms.filter(function (f) { return f !== except && dirty(f); });
  }

  var notice = document.getElementById("unsaved-notice");
  if (!notice && forms.length) {
    notice = document.createElement("p");
    notice.className = "notice";
    notice.setAttribute("role", "status");
    notice.hidden = true;
    var heading = document.querySelector("main h1");
    if (heading) heading.insertAdjacentElement("afterend", notice);
  }
  var keptTitles = [], lostTitles = [];
  function showNotice() {
    if (!notice) return;
    var names = dirtyForms(null).map(title);
    var lines = [];
    if (lostTitles.length) lines.push(text.lost + " " + lostTitles.join("、"));
    if (keptTitles.length) lines.push(text.kept + " " + keptTitles.join("、"));
    else if (names.length) lines.push(text.unsaved + " " + names.join("、"));
    notice.textContent = lines.join(" ");
    notice.hidden = !lines.length;
  }
  document.addEventListener("input", showNotice);
  document.addEventListener("change", showNotice);

  // Values kept from before another form's save come back, marked not saved.
  if (store) {
    var kept = null;
    try { kept = JSON.parse(store.getItem(KEPT) || "null"); } catch (e) { kept = null; }
    store.removeItem(KEPT);
    if (kept && Date.now() - kept.at < KEEP_MINUTES * 60000) {
      kept.forms.forEach(function (entry) {
        var form = forms.filter(function (f) { return key(f) === entry.key; })[0];
        if (!form) { lostTitles.push(entry.title); return; }
        restore(form, entry.values);
        if (dirty(form)) keptTitles.push(title(form));
      });
      showNotice();
    }
  }

  var leaving = false;
  forms.forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var others = dirtyForms(form);
      if (others.length) {
        if (!window.confirm(text.ask.replace("%s", others.map(title).join("、")))) {
          event.preventDefault();
          return;
        }
        if (store) {
          store.setItem(KEPT, JSON.stringify({
            at: Date.now(),
            forms: others.map(function (f) { return { key: key(f), title: title(f), values: values(f) }; })
          }));
        }
      }
      leaving = true;
    });
  });
  window.addEventListener("beforeunload", function (event) {
    if (leaving || !dirtyForms(null).length) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // The assessment: the invalid reason and the original's reference when the status asks.
  var assessment = document.getElementById("assessment-form");
  function showWhen() {
    if (!assessment) return;
    var status = assessment.querySelector('[name="status"]');
    assessment.querySelectorAll("[data-show-when]").forEach(function (cell) {
      var wanted = cell.getAttribute("data-show-when").split("=")[1].split(",");
      // Never hide what must be corrected or what was typed.
      var keep = cell.querySelector(".has-error, input:checked") ||
        Array.prototype.some.call(cell.querySelectorAll("input[type=text], textarea"), function (el) {
          return el.value !== "";
        });
      cell.hidden = !(status && wanted.indexOf(status.value) >= 0) && !keep;
    });
  }
  if (assessment) { assessment.addEventListener("change", showWhen); showWhen(); }

  // The queue: the references of the list's page, for "next case" on a case page.
  var queue = document.querySelector("table[data-queue]");
  var rows = queue ? Array.prototype.slice.call(queue.querySelectorAll("tr[data-reference]")) : [];
  if (queue && store && location.pathname === "/staff/reports") {
    store.setItem(QUEUE, JSON.stringify({
      list: location.pathname + location.search,
      references: rows.map(function (r) { return r.getAttribute("data-reference"); })
    }));
  }
  var current = -1;
  function focusRow(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (r, i) { r.classList.toggle("current", i === current); });
    rows[current].querySelector("a").focus();
  }

  // A case: its neighbours in the list the reviewer came from.
  var here = null, listUrl = "/staff/reports";
  var caseRef = document.getElementById("case-title");
  if (caseRef && store) {
    try {
      var saved = JSON.parse(store.getItem(QUEUE) || "null");
      if (saved && /^\/staff\/reports(\?|$)/.test(saved.list)) {
        listUrl = saved.list;
        var reference = caseRef.firstChild.textContent.trim();
        var at = saved.references.indexOf(reference);
        if (at >= 0) here = { previous: saved.references[at - 1], next: saved.references[at + 1] };
      }
    } catch (e) { here = null; }
  }
  if (assessment && here && here.next) {
    assessment.querySelector('[name="next"]').value = here.next;
    document.getElementById("save-and-next").hidden = false;
  }
  function openCase(reference) {
    if (reference) location.href = "/staff/reports/" + encodeURIComponent(reference);
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
      event.preventDefault();
      var next = target.form === assessment && document.getElementById("save-and-next");
      var button = next && !next.hidden ? next : target.form.querySelector('[type="submit"]');
      target.form.requestSubmit(button || undefined);
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    var help = document.getElementById("shortcuts");
    switch (event.key) {
      case "?":
        if (help) { help.open = !help.open; if (help.open) help.querySelector("summary").focus(); }
        break;
      case "j": if (rows.length) focusRow(current + 1); break;
      case "k": if (rows.length) focusRow(current - 1); break;
      case "o": if (rows.length && current >= 0) rows[current].querySelector("a").click(); break;
      case "x":
        if (rows.length && current >= 0) {
          var box = rows[current].querySelector('input[type="checkbox"]');
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
        }
        break;
      case "n": if (here) openCase(here.next); break;
      case "p": if (here) openCase(here.previous); break;
      case "a":
        var section = document.getElementById("assessment");
        if (section) { section.scrollIntoView(); section.querySelector("select, input:not([type=hidden])").focus(); }
        break;
      case "u": if (caseRef) location.href = listUrl; break;
      default: return;
    }
    event.preventDefault();
  });
})();
