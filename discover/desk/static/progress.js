// Live progress of a search job: poll its status and follow it to the case when done.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var bar = document.getElementById("progress");
  var status = document.getElementById("status");
  var link = document.getElementById("done-link");
  function show(job) {
    bar.max = job.total || 1;
    bar.value = job.done;
    var text = job.state;
    if (job.source) { text += ": " + job.source + " (" + job.done + "/" + job.total + ")"; }
    if (job.state === "done") {
      text = "done: " + job.records + " records, " + job.needs_review + " possible match(es) to review" +
        (job.complete ? "" : " — INCOMPLETE, see the case");
    }
    if (job.message) { text += " — " + job.message; }
    status.textContent = text;
    if (job.state === "done") { link.hidden = false; }
  }
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        show(job);
        if (job.state === "done" || job.state === "failed") { return; }
        window.setTimeout(poll, 400);
      })
      .catch(function () { window.setTimeout(poll, 1500); });
  }
  poll();
})();
