// The waiting page asks again when the account should be ready, to the millisecond: a meta refresh
// takes only whole seconds, which added up to a second to every first login. The meta refresh stays as
// the way on for a browser that runs no script.
(function () {
  'use strict';
  var page = document.getElementById('waiting');
  var ms = page ? Number(page.getAttribute('data-refresh-ms')) : NaN;
  var url = page ? page.getAttribute('data-refresh-url') : null;
  if (!url || url.indexOf('/o365/') !== 0 || !(ms >= 0 && ms <= 60000)) return;  // our own page only
  setTimeout(function () { window.location.replace(url); }, ms);
})();
