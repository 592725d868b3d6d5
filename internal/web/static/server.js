// StackHub server page: the meters and the last hour's chart, kept live from /ui/server/metrics.
'use strict';
(function () {
  const HOUR = 3600 * 1000; // the chart's widest span, as the server draws it
  const W = 600;
  const H = 160;
  const LINES = ['cpu', 'mem', 'disk']; // the chart's series: point[1], point[2], point[3]

  function bytes(n) {
    if (n < 1024) return n + ' B';
    let div = 1024;
    let exp = 0;
    for (let v = n / 1024; v >= 1024; v /= 1024) { div *= 1024; exp++; }
    return (n / div).toFixed(1) + ' ' + 'KMGTPE'[exp] + 'iB';
  }
  const pct = function (used, total) { return total ? used * 100 / total : 0; };

  function start() {
    const live = document.getElementById('server-live');
    const chart = document.getElementById('server-chart');
    if (!live || !chart) return;
    const status = document.getElementById('chart-status');
    let points = [];
    try { points = JSON.parse(live.dataset.samples || '[]'); } catch (_) { points = []; }

    const minSpan = parseInt(chart.dataset.minSpan, 10) || 60000;
    const spanText = document.getElementById('chart-span');

    // The chart spans the history so far, from minSpan up to an hour, so a young history fills it.
    function draw() {
      if (!points.length) return;
      const end = points[points.length - 1][0];
      points = points.filter(function (p) { return end - p[0] <= HOUR; });
      const SPAN = Math.min(Math.max(end - points[0][0], minSpan), HOUR);
      if (spanText) {
        spanText.textContent = SPAN >= HOUR ? 'last hour'
          : SPAN >= 120000 ? 'last ' + Math.floor(SPAN / 60000) + ' min' : 'last ' + Math.floor(SPAN / 1000) + ' s';
      }
      LINES.forEach(function (key, i) {
        const line = chart.querySelector('[data-line="' + key + '"]');
        if (!line) return;
        line.setAttribute('points', points.map(function (p) {
          const x = W - (end - p[0]) / SPAN * W;
          const y = H - Math.min(Math.max(p[i + 1], 0), 100) / 100 * H;
          return x.toFixed(1) + ',' + y.toFixed(1);
        }).join(' '));
      });
    }

    function set(key, text) {
      const n = live.querySelector('[data-m="' + key + '"]');
      if (n) n.textContent = text;
    }

    function show(s) {
      set('cpu', Math.round(s.cpu_percent) + '%');
      set('mem', Math.round(pct(s.mem_used, s.mem_total)) + '%');
      set('memtext', bytes(s.mem_used) + ' of ' + bytes(s.mem_total));
      set('disk', Math.round(pct(s.disk_used, s.disk_total)) + '%');
      set('disktext', bytes(s.disk_used) + ' of ' + bytes(s.disk_total));
      set('load', s.load1.toFixed(2));
      set('loadtext', s.load5.toFixed(2) + ' · ' + s.load15.toFixed(2) + ' (5, 15 min)');
    }

    draw();
    if (!live.dataset.stream || !window.EventSource) return;
    const es = new EventSource(live.dataset.stream);
    es.addEventListener('sample', function (m) {
      const d = JSON.parse(m.data);
      points.push(d.point);
      draw();
      show(d.sample);
      chart.dataset.updates = String((parseInt(chart.dataset.updates, 10) || 0) + 1);
      status.textContent = 'live · ' + new Date(d.sample.t).toLocaleTimeString();
    });
    es.onerror = function () {
      status.textContent = es.readyState === EventSource.CLOSED ? 'not live: reload the page' : 'reconnecting…';
    };
    window.addEventListener('pagehide', function () { es.close(); });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
