/* Optional help on the report form. Everything works without it: the page is one long form,
   "add a medicine" and "remove" ask the server, and the server checks everything on sending.
   With it: questions that do not apply are hidden, medicines are added and removed in place,
   the public form shows one step at a time with a review before sending, and what is typed
   is kept in this browser (localStorage, never sent anywhere) until the report is received. */
(function () {
  "use strict";
  var DRAFT = "adr-draft:";
  var DRAFT_DAYS = 30;
  var storage = (function () {
    try {
      window.localStorage.setItem(DRAFT + "probe", "1");
      window.localStorage.removeItem(DRAFT + "probe");
      return window.localStorage;
    } catch (e) {
      return null; // private mode, or storage refused: the form works, without drafts
    }
  })();

  var form = document.getElementById("report-form"); // not the sign-out form of staff pages
  if (!form) return;
  var text = form.dataset;
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  // Questions that do not apply.
  var conditional = form.querySelectorAll("[data-show-when]");
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
  // Was she pregnant? Asked of a woman of child-bearing age at the reaction, or of an age not
  // given (the server's rule, adr.intake.forms.pregnancy_asked); without script it is always on
  // the page, its hint saying whom it is for.
  var pregnant = document.getElementById("patient-pregnant");
  var childBearing = (text.childBearing || "12,55").split(",").map(Number);
  function ageInYears() {
    var birth = document.getElementById("patient-birth_date");
    var born = birth && birth.matches("fieldset") ? boxesDate(birth) : "";
    var onset = form.querySelector('[name="event-onset_date"]');
    var at = (onset && onset.value) || text.today || "";
    if (/^\d{4}-/.test(born) && /^\d{4}-/.test(at)) {
      var years = Number(at.slice(0, 4)) - Number(born.slice(0, 4));
      return at.slice(5) < born.slice(5) ? years - 1 : years;
    }
    var age = form.querySelector('[name="patient-age"]');
    var unit = form.querySelector('[name="patient-age_unit"]');
    var per = { year: 1, month: 12, day: 365 }[(unit && unit.value) || "year"];
    if (!age || !/^\d+$/.test(age.value.trim()) || !per) return null;
    return Math.floor(Number(age.value.trim()) / per);
  }
  function pregnancyAsked() {
    if (chosen("patient-sex")[0] !== "female") return false;
    var years = ageInYears();
    return years === null || (years >= childBearing[0] && years <= childBearing[1]);
  }
  // A medicine of ours offers its own strengths (its option in the names' suggestions says
  // which list); the public form asks the strength of a medicine of ours only. Without script
  // the field is always there, offering every strength of the catalogue.
  function productOption(row) {
    var found = null;
    row.querySelectorAll("input[list]").forEach(function (input) {
      if (found || !input.list || !/-(generic|brand)_name$/.test(input.name)) return;
      Array.prototype.forEach.call(input.list.options, function (option) {
        if (!found && option.value === input.value && option.hasAttribute("data-approval")) {
          found = option;
        }
      });
    });
    return found;
  }
  function offerStrengths(row) {
    var strength = row.querySelector('[name$="-strength"]');
    if (!strength) return;
    var option = productOption(row);
    var own = option && option.getAttribute("data-strengths");
    if (own) strength.setAttribute("list", own);
    else if (document.getElementById("our-strengths")) strength.setAttribute("list", "our-strengths");
    if (form.hasAttribute("data-steps")) {
      var cell = strength.closest(".cell");
      cell.hidden = !own && !keep(cell);
    }
  }
  function update() {
    conditional.forEach(function (cell) {
      var rule = /^([\w-]+)(!?=)(.*)$/.exec(cell.getAttribute("data-show-when"));
      if (!rule) return;
      var wanted = rule[3].split(",");
      var match = chosen(rule[1]).some(function (v) { return wanted.indexOf(v) >= 0; });
      cell.hidden = !(rule[2] === "=" ? match : !match) && !keep(cell);
    });
    if (pregnant) pregnant.hidden = !pregnancyAsked() && !keep(pregnant);
    form.querySelectorAll("fieldset.drug").forEach(offerStrengths);
  }
  // Plain words for patients and relatives, the official terms for health professionals.
  var page = document.getElementById("report-page");
  var HEALTH_PROFESSIONALS = ["physician", "pharmacist", "nurse", "other_hcp"];
  function hiddenWords() {
    return page && page.dataset.audience === "hcp" ? ".lay" : ".hcp";
  }
  function followAudience() {
    var kind = chosen("reporter-kind")[0];
    if (page && kind) page.dataset.audience = HEALTH_PROFESSIONALS.indexOf(kind) >= 0 ? "hcp" : "lay";
  }
  form.addEventListener("change", function (event) {
    followAudience();
    // Death is asked once, as the outcome: the seriousness criterion follows it.
    if (event.target.name === "event-outcome") {
      var death = form.querySelector('[name="event-serious"][value="death"]');
      if (death) death.checked = event.target.value === "death";
    }
    update();
  });
  form.addEventListener("input", update); // an age or a medicine's name, as it is typed
  update();
  followAudience();

  // Medicines added and removed in place, numbered drugs-0, drugs-1, … as the server reads them.
  var drugs = document.getElementById("drugs");
  var addDrug = document.getElementById("add-drug");
  var maxDrugs = 20;
  function drugRows() { return drugs ? drugs.querySelectorAll("fieldset.drug") : []; }
  function renumber() {
    var rows = drugRows();
    rows.forEach(function (row, index) {
      row.id = "drug-" + index;
      row.querySelector("legend").textContent = format(text.textMedicine, { number: index + 1 });
      row.querySelectorAll("[id], [name], [for], [aria-describedby]").forEach(function (el) {
        ["id", "name", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(/drugs-\d+-/g, "drugs-" + index + "-"));
        });
      });
      var remove = row.querySelector("button.remove");
      if (!remove) {
        remove = document.createElement("button");
        remove.type = "submit";
        remove.name = "remove_drug";
        remove.className = "button remove";
        row.appendChild(remove);
      }
      remove.value = "drugs-" + index;
      remove.textContent = format(text.textRemove, { number: index + 1 });
      remove.hidden = rows.length < 2;
    });
    if (addDrug) addDrug.hidden = rows.length >= maxDrugs;
  }
  function addRow() {
    var row = drugRows()[0].cloneNode(true);
    row.querySelectorAll(".hint, .error").forEach(function (el) { el.remove(); });
    row.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    row.querySelectorAll("input, select, textarea").forEach(function (el) {
      el.removeAttribute("aria-describedby");
      el.removeAttribute("aria-invalid");
      if (el.tagName === "SELECT") el.selectedIndex = 0;
      else el.value = "";
    });
    var role = row.querySelector('select[name$="-role"]');
    if (role) role.value = "concomitant";
    addDrug.parentNode.insertBefore(row, addDrug);
    renumber();
    offerStrengths(row);
    return row;
  }
  if (drugs && text.textRemove && text.textMedicine) {
    drugs.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) return;
      if (button === addDrug) {
        event.preventDefault();
        addRow().querySelector("input, select").focus();
      } else if (button.classList.contains("remove")) {
        event.preventDefault();
        var rows = drugRows();
        var row = button.closest("fieldset.drug");
        var index = Array.prototype.indexOf.call(rows, row);
        row.remove();
        renumber();
        var next = drugRows()[Math.min(index, rows.length - 2)];
        next.querySelector("legend").setAttribute("tabindex", "-1");
        next.querySelector("legend").focus();
        saveSoon();
      }
    });
    renumber();
  }

  // A product of the company chosen from the suggestions: its approval number and maker
  // fill the medicine's empty fields (what the person typed is never replaced).
  form.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.list || !/^drugs-\d+-(generic|brand)_name$/.test(input.name)) return;
    var chosen = null;
    for (var i = 0; i < input.list.options.length; i++) {
      var option = input.list.options[i];
      if (option.value === input.value && option.hasAttribute("data-approval")) chosen = option;
    }
    if (!chosen) return;
    var row = input.closest("fieldset.drug");
    [["approval_number", "approval"], ["manufacturer", "manufacturer"]].forEach(function (pair) {
      var target = row.querySelector('[name$="-' + pair[0] + '"]');
      if (target && !target.value) target.value = chosen.getAttribute("data-" + pair[1]);
    });
  });

  // One step at a time on the public form, with the reaction first and a review at the end.
  var steps = form.hasAttribute("data-steps") ? form.querySelectorAll("[data-step]") : [];
  var progress = document.getElementById("progress");
  var current = 0;
  function stepOf(el) {
    for (var i = 0; i < steps.length; i++) if (steps[i].contains(el)) return i;
    return -1;
  }
  function show(index, focus) {
    current = index;
    steps.forEach(function (step, i) { step.hidden = i !== index; });
    progress.hidden = false;
    progress.textContent = format(text.textProgress, { number: index + 1, total: steps.length }) +
      " · " + steps[index].querySelector("h2").textContent;
    if (index === steps.length - 1) review();
    if (focus) {
      steps[index].querySelector("h2").focus();
      progress.scrollIntoView();
    }
  }
  // Shown within its step (whichever step is on screen).
  function shown(el) {
    for (var node = el; node && node !== form; node = node.parentElement) {
      if (node.hidden && !node.hasAttribute("data-step")) return false;
    }
    return true;
  }
  function clearChecks(step) {
    step.querySelectorAll(".error[data-check]").forEach(function (message) {
      var cell = message.closest(".cell");
      cell.classList.remove("has-error");
      cell.querySelectorAll("[aria-invalid]").forEach(function (el) {
        el.removeAttribute("aria-invalid");
      });
      message.remove();
    });
  }
  // The format rules of the server (form.dataset.rules, the server's own messages), checked
  // as a step is left: dates not to come, a date of birth before the reaction, a medicine not
  // stopped before it started, a death not before the reaction, phone numbers and e-mail
  // addresses as the server reads them. The server stays the judge.
  var rules = {};
  try { rules = JSON.parse(form.dataset.rules || "{}"); } catch (e) { rules = {}; }
  // Today in China, as the server judges it (the page may have been opened yesterday).
  var today = form.dataset.today || "";
  try {
    today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  } catch (e) { /* an old browser: the day the page was made */ }
  function named(step, suffix) {
    return step.querySelector('[name$="' + suffix + '"]') || form.querySelector('[name$="' + suffix + '"]');
  }
  // The boxes' date as YYYY-MM-DD, "" when empty, or the rule they break (as the server's
  // DateBoxes.problem names it).
  function boxesDate(fieldset) {
    var parts = ["year", "month", "day"].map(function (part) {
      return fieldset.querySelector('[name$="-' + part + '"]').value.trim().normalize("NFKC");
    });
    if (!parts.join("")) return "";
    if (!parts.every(function (p) { return p === "" || /^\d{1,4}$/.test(p); })) return "date_boxes";
    if (!parts.every(Boolean)) return "date_boxes_partial";
    if (parts[0].length !== 4) return "date_boxes_year";
    var iso = parts[0] + "-" + ("0" + parts[1]).slice(-2) + "-" + ("0" + parts[2]).slice(-2);
    var when = new Date(iso + "T00:00:00Z");
    return isNaN(when) || when.toISOString().slice(0, 10) !== iso ? "date_boxes_no_such_day" : iso;
  }
  function dateOf(el) {
    if (!el) return "";
    return el.matches("fieldset") ? boxesDate(el) : el.value;
  }
  // Only what is surely wrong: too few digits, or a mobile number (1…) not of 11 digits.
  // Everything else goes to the server, whose libphonenumber is the judge.
  function phoneProblem(value) {
    var number = value.normalize("NFKC").replace(/(ext\.?|x|#|转|分机).*$/i, "");
    var digits = number.replace(/\D/g, "");
    var national = /^\s*(\+|00)/.test(number) ? digits.replace(/^(00)?86(?=1)/, "") : digits;
    if (digits.length < 5) return true;
    return /^1/.test(national) && !/^\s*(\+|00)(?!86)/.test(number) && national.length !== 11;
  }
  // An expiry date is printed on the pack: up to ten years from today, and not ten years
  // before the medicine was used (adr.intake.forms.EXPIRY_YEARS).
  var EXPIRY_YEARS = 10;
  function yearsFrom(day, years) {
    return String(Number(day.slice(0, 4)) + years) + day.slice(4);
  }
  function expiryProblem(el, day) {
    var row = el.closest("fieldset.drug");
    var onset = form.querySelector('[name="event-onset_date"]');
    var used = [named(row, "-start_date").value, named(row, "-end_date").value,
      onset ? onset.value : "", today].filter(Boolean)[0];
    return day > yearsFrom(today, EXPIRY_YEARS) || (used && day < yearsFrom(used, -EXPIRY_YEARS));
  }
  function formatProblems(step) {
    var found = [];
    step.querySelectorAll('input[type="date"], fieldset.date-boxes').forEach(function (el) {
      var day = dateOf(el);
      if (/-expiry_date$/.test(el.name || "")) {
        if (day && expiryProblem(el, day)) found.push([el, rules.expiry]);
      } else if (rules[day]) found.push([el, rules[day]]);
      else if (day && today && day > today) found.push([el, rules.future]);
      else if (day && day < "1900-01-01") found.push([el, rules.before_1900]);
    });
    var birth = step.querySelector("fieldset.date-boxes");
    var onset = dateOf(named(step, "event-onset_date"));
    if (birth && onset && /^\d/.test(dateOf(birth)) && dateOf(birth) > onset) {
      found.push([birth, rules.birth_after_onset]);
    }
    var death = step.querySelector('[name="event-death_date"]');
    if (death && shown(death) && death.value && onset && death.value < onset) {
      found.push([death, rules.death_before_onset]);
    }
    step.querySelectorAll('[name$="-end_date"]').forEach(function (end) {
      var start = end.closest("fieldset.drug").querySelector('[name$="-start_date"]');
      if (end.value && start && start.value && end.value < start.value) {
        found.push([end, rules.stopped_before_started]);
      }
    });
    step.querySelectorAll('input[type="tel"]').forEach(function (el) {
      if (el.value.trim() && phoneProblem(el.value.trim())) found.push([el, rules.phone]);
    });
    step.querySelectorAll('input[type="email"]').forEach(function (el) {
      if (el.value.trim() && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(el.value.trim())) {
        found.push([el, rules.email]);
      }
    });
    return found.filter(function (pair) { return pair[1] && shown(pair[0]); });
  }
  function flag(el, words, missing) {
    var cell = el.matches(".cell") ? el : el.closest(".cell");
    if (missing.indexOf(cell) >= 0 || cell.querySelector(".error")) return;
    var message = document.createElement("p");
    message.className = "error";
    message.id = (el.id || cell.id) + "-check";
    message.setAttribute("data-check", "");
    message.textContent = words;
    var heading = cell.querySelector("label, legend");
    heading.parentNode.insertBefore(message, heading.nextSibling);
    cell.classList.add("has-error");
    cell.querySelectorAll("input, select, textarea").forEach(function (control) {
      control.setAttribute("aria-invalid", "true");
      var described = control.getAttribute("aria-describedby");
      if (!described || described.indexOf(message.id) < 0) {
        control.setAttribute("aria-describedby", ((described || "") + " " + message.id).trim());
      }
    });
    missing.push(cell);
  }
  // The required questions of a step are answered and its format rules kept; the server
  // checks everything else.
  function check(step) {
    clearChecks(step);
    var missing = [];
    step.querySelectorAll("[required]").forEach(function (el) {
      var cell = el.closest(".cell");
      if (missing.indexOf(cell) >= 0 || !shown(el) || cell.querySelector(".error")) return;
      var answered = el.type === "radio" || el.type === "checkbox"
        ? cell.querySelector("input:checked") : el.value.trim();
      if (!answered) flag(el, text.textRequired, missing);
    });
    formatProblems(step).forEach(function (pair) { flag(pair[0], pair[1], missing); });
    var status = document.getElementById("step-status");
    status.textContent = missing.length ? format(text.textMissing, { count: missing.length }) : "";
    step.insertBefore(status, step.querySelector(".step-nav"));
    if (missing.length) missing[0].querySelector("input, select, textarea").focus();
    return !missing.length;
  }
  function next() {
    if (check(steps[current])) show(current + 1, true);
  }
  // What the person is about to send, section by section, each with a way back to change it.
  function valueOf(cell) {
    if (cell.matches(".date-boxes")) return /^\d/.test(boxesDate(cell)) ? boxesDate(cell) : "";
    var values = [];
    cell.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (el.type === "hidden" || el.type === "submit") return;
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked && el.closest(".option")) {
          values.push(labelText(el.closest(".option")));
        }
      } else if (el.type === "file") { // the names chosen, not the browser's made-up path
        Array.prototype.forEach.call(el.files || [], function (file) { values.push(file.name); });
      } else if (el.tagName === "SELECT") {
        if (el.value) values.push(el.options[el.selectedIndex].text);
      } else if (el.value.trim()) {
        values.push(el.value.trim());
      }
    });
    return values.join("、");
  }
  function review() {
    var box = document.getElementById("review");
    box.textContent = "";
    box.hidden = false;
    Array.prototype.slice.call(steps, 0, -1).forEach(function (step, index) {
      var part = document.createElement("section");
      var title = document.createElement("h3");
      title.textContent = step.querySelector("h2").textContent;
      part.appendChild(title);
      var list = document.createElement("dl");
      step.querySelectorAll(".cell").forEach(function (cell) {
        var value = shown(cell) && valueOf(cell);
        if (!value || cell.closest(".hp")) return;
        var row = cell.closest("fieldset.drug");
        var term = document.createElement("dt");
        term.textContent = (row ? row.querySelector("legend").textContent + " · " : "") +
          labelText(cell);
        var detail = document.createElement("dd");
        detail.textContent = value;
        list.appendChild(term);
        list.appendChild(detail);
      });
      if (!list.children.length) {
        var none = document.createElement("p");
        none.className = "hint";
        none.textContent = text.textEmpty;
        part.appendChild(none);
      } else {
        part.appendChild(list);
      }
      var change = document.createElement("button");
      change.type = "button";
      change.className = "button";
      change.textContent = text.textEdit + " · " + title.textContent;
      change.addEventListener("click", function () { show(index, true); });
      part.appendChild(change);
      box.appendChild(part);
    });
    // What is still empty and helps the assessment: listed, each a way back to it; not errors.
    var empty = document.createElement("ul");
    Array.prototype.slice.call(steps, 0, -1).forEach(function (step, index) {
      step.querySelectorAll(".cell[data-prompted]").forEach(function (cell) {
        if (!shown(cell) || valueOf(cell)) return;
        var item = document.createElement("li");
        var go = document.createElement("a");
        go.href = "#" + (cell.id || cell.querySelector("input, select, textarea").id);
        go.textContent = labelText(cell);
        go.addEventListener("click", function (event) {
          event.preventDefault();
          show(index, false);
          var control = cell.querySelector("input, select, textarea");
          control.focus();
        });
        item.appendChild(go);
        empty.appendChild(item);
      });
    });
    if (empty.children.length) {
      var prompted = document.createElement("section");
      prompted.className = "prompted";
      var note = document.createElement("p");
      note.textContent = text.textPrompted;
      prompted.appendChild(note);
      prompted.appendChild(empty);
      box.appendChild(prompted);
    }
  }
  function labelText(el) {
    var name = (el.matches("label.option") ? el : el.querySelector("label, legend")).cloneNode(true);
    name.querySelectorAll(".req, " + hiddenWords()).forEach(function (hidden) { hidden.remove(); });
    return name.textContent.trim();
  }
  if (steps.length) {
    form.classList.add("stepped");
    steps.forEach(function (step, index) {
      var nav = document.createElement("div");
      nav.className = "step-nav";
      if (index > 0) {
        var back = document.createElement("button");
        back.type = "button";
        back.className = "button";
        back.textContent = text.textBack;
        back.addEventListener("click", function () { show(index - 1, true); });
        nav.appendChild(back);
      }
      if (index < steps.length - 1) {
        var forward = document.createElement("button");
        forward.type = "button";
        forward.className = "button primary";
        forward.textContent = text.textNext;
        forward.addEventListener("click", next);
        nav.appendChild(forward);
        step.appendChild(nav);
      } else {
        step.insertBefore(nav, step.querySelector("#send-report").nextSibling);
      }
    });
    // Enter moves on to the next step; on the last one it sends.
    form.addEventListener("keydown", function (event) {
      var el = event.target;
      if (event.key !== "Enter" || el.tagName !== "INPUT" || /^(submit|button)$/.test(el.type)) {
        return;
      }
      if (current < steps.length - 1) {
        event.preventDefault();
        next();
      }
    });
  }

  var summary = document.getElementById("error-summary");
  function reveal(target) {
    var index = stepOf(target);
    if (index >= 0 && index !== current) show(index, false);
    var cell = target.closest("[data-show-when]");
    if (cell) cell.hidden = false;
    var details = target.closest("details");
    if (details) details.open = true;
  }
  if (summary) {
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      reveal(target);
      (target.matches("fieldset") ? target.querySelector("input") : target).focus();
    });
  }

  // The draft: kept in this browser only, per form address, until the report is received.
  // One draft per page address, query included: a pack's link or a follow-up's reference
  // opens its own form, never another draft's.
  var key = form.hasAttribute("data-draft") && DRAFT + location.pathname + location.search;
  var draftBox = document.getElementById("draft");
  var saving = null;
  function fieldKey(el) {
    var row = el.closest("fieldset.drug");
    return row ? el.name.replace(/^drugs-\d+-/, "drugs-" +
      Array.prototype.indexOf.call(drugRows(), row) + "-") : el.name;
  }
  function save(sending) {
    if (!storage || !key) return;
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || /^(csrf_token|website|add_drug|remove_drug)$/.test(el.name) ||
        el.type === "submit" || el.type === "button" || el.type === "file") return;
      var name = fieldKey(el);
      if (el.type === "radio" || el.type === "checkbox") {
        values[name] = values[name] || [];
        if (el.checked) values[name].push(el.value);
      } else {
        values[name] = [el.value];
      }
    });
    var draft = { saved: Date.now(), step: current, rows: drugRows().length, values: values };
    draft.sending = Boolean(sending);
    try {
      storage.setItem(key, JSON.stringify(draft));
    } catch (e) { /* storage full: the form still works */ }
  }
  function saveSoon() {
    clearTimeout(saving);
    saving = setTimeout(save, 300);
  }
  function load() {
    try {
      var draft = storage && JSON.parse(storage.getItem(key));
      if (draft && Date.now() - draft.saved < DRAFT_DAYS * 86400000) return draft;
      if (draft) storage.removeItem(key); // health data is not kept for ever on a shared phone
      return null;
    } catch (e) {
      return null;
    }
  }
  function restore(draft) {
    var token = form.elements.submission_token;
    var fresh = token.value;
    // The draft's token: sent again unchanged, the report is stored once. Changed, it is a new
    // report, not lost behind the one that may have arrived.
    form.addEventListener("input", function () { token.value = fresh; }, { once: true });
    while (addDrug && drugRows().length < Math.min(draft.rows, maxDrugs)) addRow();
    Array.prototype.forEach.call(form.elements, function (el) {
      var values = el.name && draft.values[fieldKey(el)];
      if (!values || el.type === "submit" || el.type === "file" || el.name === "csrf_token") return;
      if (el.type === "radio" || el.type === "checkbox") el.checked = values.indexOf(el.value) >= 0;
      else el.value = values[0];
    });
    update();
    followAudience();
  }
  if (storage && key) {
    var draft = load();
    if (summary) {
      save(false); // the server's answer holds what was sent: that is the draft now
    } else if (draft) {
      restore(draft);
      current = Math.min(draft.step || 0, Math.max(steps.length - 1, 0));
      draftBox.hidden = false;
      document.getElementById("draft-message").textContent =
        draft.sending ? text.textUnsent : text.textRestored;
    }
    form.addEventListener("input", saveSoon);
    form.addEventListener("change", saveSoon);
    window.addEventListener("pagehide", function () { if (!form.dataset.sending) save(false); });
    document.getElementById("draft-discard").addEventListener("click", function () {
      storage.removeItem(key);
      key = null; // and not saved again as the page goes
      window.location.replace(window.location.pathname + window.location.search);
    });
  }

  if (steps.length) {
    var firstError = summary && summary.querySelector("a[href^='#']");
    var target = firstError && document.getElementById(firstError.getAttribute("href").slice(1));
    if (target) {
      current = Math.max(stepOf(target), 0);
      reveal(target);
    }
    show(current, false);
  }
  // One click sends once: a second click while the first is on its way does nothing.
  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && /^(add_drug|remove_drug)$/.test(button.name)) return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    if (steps.length && current < steps.length - 1) { // Enter in a browser that skipped keydown
      event.preventDefault();
      next();
      return;
    }
    if (steps.length && !check(steps[current])) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    clearTimeout(saving);
    save(true);
    // A send that never answers may be tried again: the server keeps one report per form.
    setTimeout(function () { delete form.dataset.sending; }, 10000);
  });
  // Back from a failed send: the page comes from the browser's cache, ready to send again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) delete form.dataset.sending;
  });
})();
