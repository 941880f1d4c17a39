/* touchpoint dynamic number insertion (DESIGN §15), served right after tp.js in the same
 * file, only when [[numbers.pools]] are configured (docs/dni.md). It finds each pool's
 * business number on the page (text in its common written forms and tel: links, also in
 * content added later), asks POST /numbers for this visitor's number and writes it where
 * the business number was, in the same format. It runs only once the snippet has a visitor
 * id: under DNT/GPC, or before consent, nothing is asked and nothing swapped. */
(function (w, d, P) {
  "use strict";
  var tp = w.touchpoint, script = d.currentScript;
  if (!tp || tp.numbers || !P.length || !w.fetch || !w.MutationObserver) return;
  var base = (script && (script.getAttribute("data-endpoint") || script.src)) || "/collect";
  var url = new URL("numbers", new URL(base, location.href)).href;
  // What may stand between the digits of a written number: 512-555-0100, (512) 555.0100, …
  var SEP = "[\\s.\\-()/\\u00a0\\u2011]*";
  var SKIP = /^(SCRIPT|STYLE|TEXTAREA|INPUT|NOSCRIPT|TEMPLATE)$/;
  var observer = null, lastUrl = null;

  // Each pool looks for the numbers the page may show (the business number first, and any
  // number shown before a new assignment) and writes `to`.
  P.forEach(function (p) { p.from = [p.national]; p.to = null; });

  function digitsPattern(national) { return national.split("").join(SEP); }

  // +1 512…, 001 512…, +44 (0)20…, 020…, 1-512…, or the national digits alone.
  function matcher(p) {
    var trunk = p.trunk ? "(?:" + p.trunk + SEP + ")?" : "";
    var prefix = "(?:(?:\\+|00)" + digitsPattern(p.cc) + SEP + trunk +
      (p.trunk ? "|" + p.trunk + SEP : "") + ")?";
    return new RegExp(prefix + "(?:" + p.from.map(digitsPattern).join("|") + ")", "g");
  }

  // The match with its national digits replaced: same separators and grouping when the
  // lengths agree; otherwise the same groups, the last one taking the difference.
  function rewrite(p, written) {
    if (!p.to.national) return p.to.e164; // another country: written as E.164
    var all = written.replace(/\D/g, ""), n = 0, to = p.to.national;
    p.from.forEach(function (f) { if (f.length > n && all.slice(-f.length) === f) n = f.length; });
    var at = written.length;
    for (var seen = 0; seen < n; at--) if (/\d/.test(written[at - 1])) seen++;
    var head = written.slice(0, at), tail = written.slice(at);
    if (to.length === n) {
      var k = 0;
      return head + tail.replace(/\d/g, function () { return to[k++]; });
    }
    var groups = tail.split(/\D+/), seps = tail.match(/\D+/g) || [], out = "";
    for (var j = 0; j < groups.length && to; j++) {
      var take = j === groups.length - 1 ? to.length : Math.min(groups[j].length, to.length);
      out += (j ? seps[j - 1] : "") + to.slice(0, take);
      to = to.slice(take);
    }
    return head + out;
  }

  // `text` with every occurrence of the pool's numbers (not part of a longer number) rewritten.
  function swap(p, text) {
    var re = p.re, out = "", last = 0, m;
    re.lastIndex = 0;
    while ((m = re.exec(text))) {
      var end = m.index + m[0].length;
      if (/\d/.test(text.charAt(m.index - 1)) || /\d/.test(text.charAt(end))) {
        re.lastIndex = m.index + 1;
        continue;
      }
      out += text.slice(last, m.index) + rewrite(p, m[0]);
      last = end;
    }
    return last ? out + text.slice(last) : text;
  }

  // Where pools share a business number, the first with a number of its own for the
  // visitor shows it: pools on their fallback come last (and the collector lists pools
  // with `channels` first).
  function active() {
    var on = P.filter(function (p) { return p.to && p.from.length; });
    var own = on.filter(function (p) { return !p.to.fallback; });
    return own.concat(on.filter(function (p) { return p.to.fallback; }));
  }

  function swapText(node, pools) {
    var text = node.nodeValue;
    if (!node.parentNode || SKIP.test(node.parentNode.nodeName) || !/\d/.test(text)) return;
    pools.forEach(function (p) { text = swap(p, text); });
    if (text !== node.nodeValue) node.nodeValue = text;
  }

  function swapLink(a, pools) {
    var href = a.getAttribute("href") || "";
    if (!/^tel:/i.test(href)) return;
    var number;
    try { number = decodeURIComponent(href.slice(4)); } catch (e) { return; }
    pools.some(function (p) { // the first pool that finds its number writes it
      if (swap(p, number) === number) return false;
      a.setAttribute("href", "tel:" + p.to.e164);
      return true;
    });
  }

  function scan(root, pools) {
    if (root.nodeType === 3) return swapText(root, pools);
    if (root.nodeType !== 1 && root.nodeType !== 9 && root.nodeType !== 11) return;
    if (SKIP.test(root.nodeName)) return;
    var walk = d.createTreeWalker(root, 4 /* NodeFilter.SHOW_TEXT */), node;
    while ((node = walk.nextNode())) swapText(node, pools);
    if (root.nodeName === "A") swapLink(root, pools);
    var links = root.querySelectorAll ? root.querySelectorAll("a[href]") : [];
    for (var i = 0; i < links.length; i++) swapLink(links[i], pools);
  }

  // Only what was added or changed is looked at; our own writes are taken off the queue
  // unseen, so they never come back as work.
  function watch() {
    if (observer) return;
    observer = new MutationObserver(function (records) {
      var pools = active();
      records.forEach(function (r) {
        if (r.type === "childList") r.addedNodes.forEach(function (n) { scan(n, pools); });
        else if (r.type === "attributes") swapLink(r.target, pools);
        else scan(r.target, pools);
      });
      observer.takeRecords();
    });
    observer.observe(d.documentElement, { childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["href"] });
  }

  function assign(p, given) {
    var e164 = given.number;
    if (!/^\+\d{6,15}$/.test(e164) || (p.to && p.to.e164 === e164)) return false;
    var own = e164.indexOf("+" + p.cc) === 0 ? e164.slice(1 + p.cc.length) : null;
    if (p.to && p.to.national) p.from.push(p.to.national); // the page shows it now
    p.from = p.from.filter(function (f) { return f !== own; });
    p.to = { e164: e164, national: own, fallback: given.fallback === true };
    p.re = matcher(p);
    return true;
  }

  // Once per page view; the answer also renews the visitor's hold on its number.
  function ask() {
    var vid = tp.visitorId(), page = location.href.split("#")[0];
    if (!vid || page === lastUrl) return;
    lastUrl = page;
    fetch(url, { method: "POST", credentials: "omit", headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ visitor_id: vid, pools: P.map(function (p) { return p.name; }),
        url: location.href, referrer: d.referrer || null }) })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        var changed = false;
        ((answer && answer.numbers) || []).forEach(function (a) {
          var p = P.filter(function (q) { return a && q.name === a.pool; })[0];
          if (p && typeof a.number === "string" && assign(p, a)) changed = true;
        });
        var pools = active();
        if (!changed || !pools.length) return;
        scan(d.documentElement, pools); // the whole page: what is queued is seen, or was removed
        watch();
        observer.takeRecords();
      })
      .catch(function () { /* no number: the page keeps the business number */ });
  }

  tp.numbers = function () {
    return P.map(function (p) { return { pool: p.name, number: p.to ? p.to.e164 : p.replace }; });
  };
  var pushState = history.pushState;
  history.pushState = function () {
    var result = pushState.apply(this, arguments);
    ask();
    return result;
  };
  w.addEventListener("popstate", ask);
  w.addEventListener("touchpoint:ready", ask); // consent given later
  ask();
})(window, document, /*tp-numbers*/[]/*tp-numbers*/);
