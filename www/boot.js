// Runs before the page's WebAssembly, as a file (the page's Content-Security-Policy allows no
// inline script but trunk's own loader, by hash).
//
// 1. Narrows where the page may connect to: its own origin, plus the origin of `?weights=URL`
//    when the address names one (an http or https URL; the page refuses any other scheme and
//    says so). index.html's policy allows any http(s) connection; this second policy, added
//    before anything is fetched, intersects with it, so together they allow exactly these.
// 2. Registers the service worker that makes the site work offline (www/sw.js).
(function () {
  var allowed = ["'self'"];
  try {
    var given = new URLSearchParams(location.search).get("weights");
    if (given) {
      var url = new URL(given, location.href);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.origin !== location.origin) {
        allowed.push(url.origin);
      }
    }
  } catch (e) {
    // Not a URL: the page reports it, and connections stay on this origin.
  }
  var policy = document.createElement("meta");
  policy.httpEquiv = "Content-Security-Policy";
  policy.content = "connect-src " + allowed.join(" ");
  document.head.appendChild(policy);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js");
})();
