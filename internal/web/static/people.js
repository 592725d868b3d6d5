// Notifications page: new notifications that arrive live are prepended to the list. The server renders them;
// this script fetches the page again and moves over the items it does not show yet, so every sentence and link
// is built (and escaped) in one place.
'use strict';
(function () {
  const list = document.getElementById('people-notes');
  if (!list || !list.dataset.liveNotes) return; // only the first page shows the newest

  let busy = false;
  let again = false;

  function known() {
    const seen = new Set();
    list.querySelectorAll('li[data-created]').forEach(function (li) { seen.add(li.dataset.created); });
    return seen;
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch('/ui/notifications', { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('people-notes');
      if (!fresh) return;
      const seen = known();
      const items = Array.from(fresh.querySelectorAll('li[data-created]'))
        .filter(function (li) { return !seen.has(li.dataset.created); });
      if (items.length === 0) return;
      const empty = document.getElementById('people-notes-empty');
      if (empty) empty.remove();
      // The fetched list is newest first: insert in reverse so it stays that way.
      for (let i = items.length - 1; i >= 0; i--) {
        const li = document.importNode(items[i], true);
        li.classList.add('people-fresh');
        list.insertBefore(li, list.firstChild);
      }
    } catch (_) {
      // A failed refresh leaves the list as it was; the next event or a reload catches up.
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  document.addEventListener('stackhub:event', function (e) {
    if (e.detail && e.detail.type === 'notification.created') refresh();
  });
})();
