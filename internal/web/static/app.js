// StackHub pages: confirmations, toasts and the one live event stream each page shares.
'use strict';
(function () {
  const SH = window.StackHub = {};

  // toast shows a short message; href makes it a link.
  SH.toast = function (msg, href) {
    const box = document.getElementById('toasts');
    if (!box) return;
    const t = document.createElement('div');
    t.className = 'toast';
    if (href) {
      const a = document.createElement('a');
      a.href = href;
      a.textContent = msg;
      t.appendChild(a);
    } else {
      t.textContent = msg;
    }
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 8000);
  };

  // Destructive forms carry data-confirm: ask first.
  document.addEventListener('submit', function (e) {
    const f = e.target;
    if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      e.preventDefault();
    }
  });

  // One EventSource per page for a signed-in visitor. Each event is re-dispatched on document as
  // "stackhub:event" so page scripts listen without opening a stream of their own.
  function live() {
    if (!document.body.dataset.live || !window.EventSource) return;
    const es = new EventSource('/api/v1/events');
    SH.events = es;
    es.onmessage = function (m) {
      let ev;
      try { ev = JSON.parse(m.data); } catch (_) { return; }
      document.dispatchEvent(new CustomEvent('stackhub:event', { detail: ev }));
    };
    es.onopen = function () { document.body.dataset.liveReady = '1'; };
  }

  document.addEventListener('stackhub:event', function (e) {
    if (e.detail.type !== 'notification.created') return;
    const b = document.getElementById('unread');
    if (!b) return;
    const n = (parseInt(b.dataset.count, 10) || 0) + 1;
    b.dataset.count = String(n);
    b.textContent = String(n);
    b.setAttribute('aria-label', n + ' unread');
    b.hidden = false;
    SH.toast('New notification', '/ui/notifications');
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', live);
  } else {
    live();
  }
})();
