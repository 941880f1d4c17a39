/* touchpoint tracking snippet. Embed with one line (see docs/collector.md):
   <script src="https://t.example.com/tp.js" async></script>
   Sets the first-party visitor cookie (_tp_uid by default, readable by other
   scripts so a call-tracking vendor can pick it up) and reports page views,
   form submits and your own events to the collector it was loaded from. */
(function (w, d, C) {
  "use strict";
  if (w.touchpoint && w.touchpoint.visitorId) return; // embedded twice

  var script = d.currentScript;
  var data = function (name) { return script && script.getAttribute("data-" + name); };
  var endpoint = data("endpoint") || (script && script.src ? new URL("collect", script.src).href : "/collect");
  var ID = /^[0-9a-f]{32}$/;
  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  // Fields that must never be read, whatever they are called.
  var SECRET = /pass|card|cc-|ccnum|cvc|cvv|iban|ssn|secret|token|pin\b/i;
  var STORE = "_tp_q";
  var BATCH = 20;
  // Global Privacy Control and Do Not Track, when the collector honours them: nothing is
  // stored or sent, even after consent (DESIGN §16).
  var optedOut = (!!C.gpc && navigator.globalPrivacyControl === true) ||
    (!!C.dnt && (navigator.doNotTrack === "1" || w.doNotTrack === "1"));
  var consented = !optedOut && (!(script && script.hasAttribute("data-require-consent")) || ID.test(readCookie() || ""));
  var vid = null, queue = [], timer = 0, backoff = 0, sending = false, lastUrl = null, refused = false;
  var size = BATCH; // events per request: halved while the collector says a batch is too large
  var inflight = {}; // ids of the events a keepalive fetch is sending (it outlives the page)

  function readCookie() {
    var m = d.cookie.match(new RegExp("(?:^|;\\s*)" + C.cookie + "=([^;]*)"));
    return m ? m[1] : null;
  }

  function writeCookie(value, maxAge) {
    var base = C.cookie + "=" + value + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    if (C.domain) d.cookie = base + "; Domain=" + C.domain;
    // Without a domain when the configured one does not cover this page (or to delete).
    if (!C.domain || maxAge <= 0 || readCookie() !== value) d.cookie = base;
  }

  function hex(bytes) {
    var a = new Uint8Array(bytes), out = "";
    w.crypto.getRandomValues(a);
    for (var i = 0; i < bytes; i++) out += (a[i] < 16 ? "0" : "") + a[i].toString(16);
    return out;
  }

  function save() {
    if (!vid) return; // nothing is stored before consent
    try {
      if (queue.length) w.localStorage.setItem(STORE, JSON.stringify(queue));
      else w.localStorage.removeItem(STORE);
    } catch (e) { /* storage full or blocked: the queue stays in memory */ }
  }

  function start() {
    if (vid || !consented) return;
    var found = readCookie();
    vid = ID.test(found || "") ? found : hex(16);
    writeCookie(vid, 31536000); // one year from the latest visit
    try { queue = JSON.parse(w.localStorage.getItem(STORE) || "[]").concat(queue); } catch (e) { /* ignore */ }
    save();
    w.dispatchEvent(new CustomEvent("touchpoint:ready", { detail: { visitorId: vid } }));
    schedule(0);
  }

  function add(type, fields) {
    if (optedOut || refused) return;
    var event = { event_id: hex(16), type: type, occurred_at: Date.now(), url: location.href };
    for (var k in fields) if (fields[k] != null) event[k] = fields[k];
    queue.push(event);
    if (queue.length > 500) queue.splice(0, queue.length - 500);
    save();
    schedule(queue.length >= BATCH ? 0 : 1000);
  }

  function schedule(ms) {
    if (vid && !timer) timer = setTimeout(function () { timer = 0; flush(false); }, ms);
  }

  function body(events) {
    return JSON.stringify(events.map(function (e) {
      var copy = { visitor_id: vid };
      for (var k in e) copy[k] = e[k];
      return copy;
    }));
  }

  function drop(sent) {
    var ids = {};
    sent.forEach(function (e) { ids[e.event_id] = 1; });
    queue = queue.filter(function (e) { return !ids[e.event_id]; });
  }

  // leaving: hand everything to the browser with sendBeacon, which outlives the page.
  function flush(leaving) {
    if (!vid || !queue.length) return;
    if (leaving || !w.fetch) {
      // Not those a keepalive fetch is already sending: the collector would get them twice.
      var rest = queue.filter(function (e) { return !inflight[e.event_id]; });
      while (rest.length && navigator.sendBeacon) {
        var part = rest.slice(0, BATCH);
        if (!navigator.sendBeacon(endpoint, body(part))) break;
        drop(part);
        rest = rest.slice(part.length);
      }
      return save();
    }
    if (sending) return;
    sending = true;
    var batch = queue.slice(0, size), text = body(batch), keepalive = text.length < 60000;
    if (keepalive) batch.forEach(function (e) { inflight[e.event_id] = 1; });
    // text/plain needs no CORS preflight; the answer's status is still readable.
    // Browsers refuse keepalive bodies over 64 KB.
    fetch(endpoint, { method: "POST", body: text, keepalive: keepalive, credentials: "omit",
      headers: { "Content-Type": "text/plain" } })
      .then(function (r) { return r.status; }, function () { return 0; })
      .then(function (status) {
        sending = false;
        inflight = {};
        // 413 for several events: send fewer at a time, so one large event cannot take
        // its neighbours with it (a bad event alone gets 200 and is kept in rejects).
        if (status === 413 && batch.length > 1) { size = Math.ceil(batch.length / 2); backoff = 0; }
        else if (status && status < 500 && status !== 429) { drop(batch); backoff = 0; size = BATCH; } // done, or never will be
        else backoff = Math.min(backoff ? backoff * 2 : 1000, 30000);
        save();
        if (queue.length) schedule(backoff);
      });
  }

  function pageView() {
    var url = location.href.split("#")[0];
    if (url === lastUrl) return;
    add("page_view", { referrer: lastUrl || d.referrer || null, title: d.title || null });
    lastUrl = url;
  }

  function formEmail(form) {
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      if (el.type === "password" || el.type === "hidden") continue;
      var hint = [el.name, el.id, el.getAttribute("autocomplete")].join(" ");
      if (SECRET.test(hint) || !(el.type === "email" || /e-?mail/i.test(hint))) continue;
      var value = String(el.value || "").trim();
      if (EMAIL.test(value)) return value.toLowerCase();
    }
    return null;
  }

  d.addEventListener("submit", function (e) {
    var form = e.target, action = null;
    if (!(form instanceof HTMLFormElement)) return;
    // getAttribute, not form.id: a field named "id" would shadow the property.
    try { action = new URL(form.getAttribute("action") || "", location.href).pathname; } catch (x) { /* ignore */ }
    var props = { form_id: form.getAttribute("id") || undefined,
      form_name: form.getAttribute("name") || undefined, form_action: action || undefined };
    add("form_submit", { email: formEmail(form), properties: props });
    flush(true); // the page may be about to go
  }, true);

  var pushState = history.pushState;
  history.pushState = function () {
    var result = pushState.apply(this, arguments);
    pageView();
    return result;
  };
  w.addEventListener("popstate", pageView);
  w.addEventListener("pagehide", function () { flush(true); });
  d.addEventListener("visibilitychange", function () {
    if (d.visibilityState === "hidden") flush(true);
  });

  w.touchpoint = {
    visitorId: function () { return vid; },
    track: function (type, props) { add(String(type), { properties: props }); },
    identify: function (email) {
      var value = String(email || "").trim().toLowerCase();
      if (EMAIL.test(value)) add("identify", { email: value });
    },
    consent: function (yes) {
      if (yes) {
        consented = !optedOut;
        refused = false;
        return start();
      }
      consented = false;
      refused = true;
      vid = null;
      queue = [];
      writeCookie("", 0);
      try { w.localStorage.removeItem(STORE); } catch (e) { /* ignore */ }
    },
    flush: function () { flush(false); }
  };

  pageView(); // held in memory until consent, when consent is required
  start();
})(window, document, /*tp-config*/{"cookie": "_tp_uid", "domain": "", "gpc": true, "dnt": true}/*tp-config*/);
