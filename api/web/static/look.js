/* The look's behaviour, served as a file (the Content-Security-Policy allows no inline
   script): tables become cards on a phone (each cell labelled with its column's heading),
   tables that stay tables scroll inside their own box (focusable, named), and the page
   preview zooms in and out. Without this script every page still works: wide tables scroll
   inside themselves (edms.css) and the preview is shown at the width of its box. */
(function () {
  "use strict";

  function nameOf(table) {
    var cap = table.querySelector("caption");
    if (cap && cap.textContent.trim()) return cap.textContent.trim();
    var el = table.parentElement && table.parentElement.classList.contains("table-wrap")
      ? table.parentElement : table;
    for (var p = el.previousElementSibling; p; p = p.previousElementSibling) {
      if (/^H[1-4]$/.test(p.tagName)) return p.textContent.trim();
    }
    var h = document.querySelector("main h1");
    return h ? "Bảng: " + h.textContent.trim() : "Bảng";
  }

  function labelCells(table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return false;
    var labels = [];
    Array.prototype.forEach.call(head.cells, function (th) {
      var span = th.colSpan || 1;
      for (var i = 0; i < span; i++) labels.push(th.textContent.trim());
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var col = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (cell.colSpan === 1 && labels[col] && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", labels[col]);
          }
          col += cell.colSpan || 1;
        });
      });
    });
    return true;
  }

  function scrollBox(el, table) {
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "region");
    if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", nameOf(table));
  }

  document.querySelectorAll("main table").forEach(function (table) {
    if (table.classList.contains("no-cards")) {
      // stays a table: scrolls in its own box
    } else if (labelCells(table)) {
      table.classList.add("cards");
    }
    var parent = table.parentElement;
    if (parent && parent.classList.contains("table-wrap")) {
      scrollBox(parent, table);
    } else if (!table.classList.contains("cards")) {
      scrollBox(table, table);
    }
  });

  // the page preview: zoom in and out
  document.querySelectorAll(".preview [data-zoom]").forEach(function (pages) {
    var bar = pages.parentElement.querySelector(".zoom-bar");
    if (!bar) return;
    var out = bar.querySelector("output");
    var zoom = 100;
    function show() {
      pages.style.setProperty("--zoom-width", zoom + "%");
      if (out) out.textContent = zoom + "%";
    }
    bar.hidden = false;
    bar.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-zoom-step]");
      if (!b) return;
      var step = b.getAttribute("data-zoom-step");
      if (step === "fit") zoom = 100;
      else zoom = Math.max(50, Math.min(300, zoom + parseInt(step, 10)));
      show();
    });
    show();
  });
})();
