/*
 * outage_kit offline decks: draw each chart with Vega, keep the static SVG if that fails.
 *
 * A chart output is exported as
 *   <div class="ok-chart">
 *     <div class="ok-chart-vega"></div>               (Vega draws here)
 *     <div class="ok-chart-fallback"><img ...></div>  (the SVG made in the kernel)
 *     <script type="application/vnd.vegalite.v5+json">{spec}</script>
 *   </div>
 * When vega-embed succeeds the chart gets the class ok-chart-live and the fallback is hidden;
 * Vega-Lite params bound to range inputs then work in the deck, with no kernel. If Vega is
 * missing or the spec fails, the chart gets ok-chart-fallback-shown and the SVG stays.
 * window.outageKitDeck.ready resolves once every chart has settled either way.
 */
(function () {
  "use strict";

  var SPEC_TYPE = "application/vnd.vegalite.v5+json";

  function settle(element, state, detail) {
    element.classList.add(state === "live" ? "ok-chart-live" : "ok-chart-fallback-shown");
    element.setAttribute("data-ok-state", state);
    if (detail) {
      element.setAttribute("data-ok-error", String(detail));
    }
  }

  function renderChart(element) {
    var target = element.querySelector(".ok-chart-vega");
    var script = element.querySelector('script[type="' + SPEC_TYPE + '"]');
    if (typeof window.vegaEmbed !== "function") {
      settle(element, "fallback", "vega-embed is not loaded");
      return Promise.resolve();
    }
    var spec;
    try {
      spec = JSON.parse(script.textContent);
    } catch (error) {
      settle(element, "fallback", error);
      return Promise.resolve();
    }
    return window
      .vegaEmbed(target, spec, { mode: "vega-lite", renderer: "svg", actions: false })
      .then(function (result) {
        element.okView = result.view;
        settle(element, "live");
      })
      .catch(function (error) {
        target.innerHTML = "";
        settle(element, "fallback", error);
        if (window.console) {
          console.warn("outage_kit deck: Vega could not draw a chart; showing its SVG", error);
        }
      });
  }

  var charts = Array.prototype.slice.call(document.querySelectorAll(".ok-chart"));
  var ready = Promise.all(charts.map(renderChart));

  // nbconvert's "scroll" option, without jQuery: a sub-slide taller than the deck gets the
  // deck's height and a scroll bar (in slide units, so it is right at any zoom).
  function makeTallSlidesScroll(Reveal) {
    var limit = Reveal.getConfig().height;
    var current = Reveal.getCurrentSlide();
    if (!current || !current.parentNode) {
      return;
    }
    var candidates = current.parentNode.querySelectorAll("section");
    Array.prototype.forEach.call(candidates, function (section) {
      if (section.classList.contains("ok-scrolls") || section.scrollHeight <= limit) {
        return;
      }
      section.classList.add("ok-scrolls");
      section.style.height = limit + "px";
      section.style.overflowY = "auto";
    });
    Reveal.layout();
  }

  function attach(Reveal, options) {
    ready.then(function () {
      Reveal.layout();
    });
    if (options && options.scroll) {
      Reveal.on("ready", function () {
        makeTallSlidesScroll(Reveal);
      });
      Reveal.on("slidechanged", function () {
        makeTallSlidesScroll(Reveal);
      });
    }
  }

  window.outageKitDeck = { ready: ready, charts: charts, attach: attach };
})();
