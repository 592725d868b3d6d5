// StackHub host pages: the install dialog and its live progress, job pages, My apps' live statuses, and an app's
// logs and credentials. Every page works without this script; it only makes them live.
'use strict';
(function () {
  const $ = function (sel, root) { return (root || document).querySelector(sel); };
  const $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  function el(tag, attrs, text) {
    const n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // ---- Job progress: the job's own SSE stream (stages, then one result). ----

  const MAX_JOB_LINES = 500;
  const RUNNING_KINDS = ['install', 'start', 'restart', 'upgrade', 'rollback'];

  function addLine(box, e) {
    const log = $('[data-job-log]', box);
    if (!log) return;
    const li = el('li', { 'data-seq': String(e.seq) });
    li.appendChild(el('span', { class: 'host-stage' }, e.stage));
    li.appendChild(document.createTextNode(' ' + e.message + (e.percent >= 0 ? ' (' + e.percent + '%)' : '')));
    log.appendChild(li);
    while (log.children.length > MAX_JOB_LINES) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  function markStages(box, stage, state) {
    const items = $$('[data-job-stages] li', box);
    const at = items.findIndex(function (li) { return li.dataset.stage === stage; });
    items.forEach(function (li, i) {
      let c = 'todo';
      if (state === 'succeeded' || (at >= 0 && i < at)) c = 'done';
      else if (i === at) c = state === 'failed' ? 'failed' : 'current';
      li.className = c;
    });
    if (at < 0 && (stage === 'rolling_back' || stage === 'failed')) {
      const cur = items.find(function (li) { return li.className === 'current'; });
      if (cur) cur.className = 'failed';
    }
  }

  function setJobState(box, state, stage) {
    box.dataset.state = state;
    const tag = $('[data-job-state]', box);
    if (tag) {
      tag.textContent = state === 'running' ? 'working' : state;
      tag.className = 'tag ' + (state === 'succeeded' ? 'ok' : state === 'failed' ? 'bad' : 'warn');
    }
    const st = $('[data-job-stage]', box);
    if (st && stage) st.textContent = stage;
  }

  function showResult(box, job) {
    setJobState(box, job.state, job.stage);
    markStages(box, job.stage, job.state);
    const res = $('[data-job-result]', box);
    if (!res) return;
    res.replaceChildren();
    const name = box.dataset.instance;
    if (job.state === 'succeeded') {
      const p = el('p');
      if (RUNNING_KINDS.indexOf(job.kind) >= 0) {
        p.appendChild(el('span', { class: 'tag ok', 'data-final': 'running' }, 'running'));
        p.appendChild(document.createTextNode(' ' + name + ' is running. '));
        if (box.dataset.open) {
          p.appendChild(el('a', { class: 'button host-open', href: box.dataset.open, target: '_blank', rel: 'noopener' },
            'Open ' + name));
        }
      } else {
        p.textContent = 'Done: ' + job.stage + '.';
      }
      res.appendChild(p);
    } else {
      res.appendChild(el('p', { class: 'form-error' }, 'Failed: ' + (job.error || 'the job failed') ));
      if (job.kind === 'install') {
        res.appendChild(el('p', { class: 'host-leftovers' }, (job.error || '').indexOf('rollback incomplete') >= 0
          ? 'Rolling back did not remove everything; the cause above says what is left. Uninstall the app to clear it.'
          : 'Nothing was left behind: the containers, networks, new volumes, files and ports this install created were removed. The failed entry stays in My apps until you uninstall it.'));
      }
    }
    const back = el('p');
    back.appendChild(el('a', { href: '/ui/my-apps' }, 'My apps'));
    res.appendChild(back);
  }

  // followJob streams a job into its progress block until the result; onDone gets the finished job.
  function followJob(box, onDone) {
    if (!box || box.dataset.state !== 'running' || !window.EventSource) return;
    let last = parseInt(box.dataset.lastSeq, 10) || 0;
    const es = new EventSource('/api/v1/jobs/' + encodeURIComponent(box.dataset.job) + '/events');
    es.addEventListener('stage', function (m) {
      const e = JSON.parse(m.data);
      if (e.seq <= last) return; // already on the page
      last = e.seq;
      addLine(box, e);
      setJobState(box, 'running', e.stage);
      markStages(box, e.stage, 'running');
    });
    es.addEventListener('result', function (m) {
      es.close(); // the server ends the stream; without close the browser would reconnect
      const job = JSON.parse(m.data);
      showResult(box, job);
      if (onDone) onDone(job);
    });
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) {
        const st = $('[data-job-stage]', box);
        if (st) st.textContent = 'lost the progress stream; reload the page to see where the job is';
      }
    };
  }

  // ---- The install dialog. ----

  function setupInstall() {
    const d = document.getElementById('install-dialog');
    if (!d || typeof d.showModal !== 'function') return;
    const opener = $('.host-dialog-open');
    const closer = $('.host-dialog-close', d);
    d.close();
    d.showModal();
    opener.hidden = false;
    closer.hidden = false;
    opener.addEventListener('click', function () { d.showModal(); });
    closer.addEventListener('click', function () { d.close(); });
    bindInstallForm(d, $('#install-form', d));
  }

  function bindInstallForm(d, form) {
    if (!form) return;
    const cancel = $('.host-cancel', form);
    if (cancel) cancel.addEventListener('click', function (e) { e.preventDefault(); d.close(); });
    const ver = $('select[data-replan]', form);
    if (ver) {
      // Another version may have other settings: plan it again.
      ver.addEventListener('change', function () {
        window.location.assign(ver.dataset.replan + '?version=' + encodeURIComponent(ver.value));
      });
    }
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      submitInstall(d, form);
    });
  }

  function submitInstall(d, form) {
    const btn = $('#install-submit', form);
    btn.disabled = true;
    btn.textContent = 'Installing…';
    fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), credentials: 'same-origin' })
      .then(function (res) { return res.text().then(function (html) { return { res: res, html: html }; }); })
      .then(function (r) {
        const doc = new DOMParser().parseFromString(r.html, 'text/html');
        const prog = doc.getElementById('job-progress');
        if (r.res.ok && prog) {
          // Accepted: the job page's progress block moves into the dialog and streams there.
          const box = document.getElementById('install-progress');
          box.replaceChildren(document.importNode(prog, true));
          box.hidden = false;
          document.getElementById('install-body').replaceChildren();
          const h = $('h2', box);
          h.tabIndex = -1;
          h.focus();
          followJob($('#job-progress', box));
          return;
        }
        const fresh = doc.getElementById('install-form');
        if (fresh) {
          // Refused: the form comes back with the errors next to their fields.
          const f = document.importNode(fresh, true);
          form.replaceWith(f);
          bindInstallForm(d, f);
          const bad = $('[aria-invalid="true"]', f) || $('.form-error', f);
          if (bad) {
            if (!bad.matches('input, select')) bad.tabIndex = -1;
            bad.focus();
          }
          return;
        }
        const msg = doc.querySelector('.error-message');
        throw new Error(msg ? msg.textContent : 'HTTP ' + r.res.status);
      })
      .catch(function (err) {
        btn.disabled = false;
        btn.textContent = 'Install';
        let p = $('.form-error', form);
        if (!p) {
          p = el('p', { class: 'form-error', role: 'alert' });
          form.prepend(p);
        }
        p.textContent = err.message;
      });
  }

  // ---- My apps: statuses from the page's shared event stream. ----

  const STATUS = { '1': ['running', 'ok'], '2': ['failed', 'bad'], '0': ['not started', 'warn'] };

  function rows(name) {
    return $$('[data-instance]').filter(function (r) { return r.dataset.instance === name && r.matches('.host-app'); });
  }

  function setStatus(row, code, info) {
    const s = STATUS[code] || STATUS['0'];
    const tag = $('[data-status]', row);
    if (tag) {
      tag.textContent = s[0];
      tag.className = 'tag ' + s[1];
    }
    const i = $('[data-info]', row);
    if (i) i.textContent = code === '1' ? '' : (info || '');
  }

  function refresh(row) {
    fetch('/api/v1/installs/' + encodeURIComponent(row.dataset.instance), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (info) { if (info) setStatus(row, info.status, info.info); })
      .catch(function () {});
  }

  function removed(row) {
    row.classList.add('removed');
    const tag = $('[data-status]', row);
    if (tag) {
      tag.textContent = 'uninstalled';
      tag.className = 'tag';
    }
    $$('button', row).forEach(function (b) { b.disabled = true; });
  }

  // An app installed elsewhere (another tab, the CLI, the API) has no card yet: read this page again and take
  // its card from there, in the place the page puts it.
  const adding = {};
  function addCard(name) {
    if (!name || adding[name]) return;
    adding[name] = true;
    fetch(location.pathname, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : ''; })
      .then(function (html) {
        const doc = new DOMParser().parseFromString(html, 'text/html');
        const card = Array.prototype.find.call(doc.querySelectorAll('.host-app[data-instance]'),
          function (c) { return c.dataset.instance === name; });
        if (!card || rows(name).length) return;
        let list = $('#my-apps');
        if (!list) {
          list = el('ul', { class: 'plain host-apps', id: 'my-apps' });
          $('#my-apps-empty').replaceWith(list);
        }
        let next = card.nextElementSibling;
        while (next && !rows(next.dataset.instance).length) next = next.nextElementSibling;
        const fresh = document.importNode(card, true);
        list.insertBefore(fresh, next ? rows(next.dataset.instance)[0] : null);
        bindUninstall(fresh);
        refresh(fresh); // an event may have come while the page was read
      })
      .catch(function () {})
      .finally(function () { delete adding[name]; });
  }

  // The uninstall question says what happens to the data.
  function bindUninstall(root) {
    $$('form.host-uninstall', root).forEach(function (f) {
      const box = $('.host-purge', f);
      const name = f.dataset.name;
      box.addEventListener('change', function () {
        f.dataset.confirm = box.checked
          ? 'Uninstall ' + name + ' and DELETE its data volumes, files and upgrade snapshots? This cannot be undone.'
          : 'Uninstall ' + name + '? Its data volumes and snapshots are kept.';
      });
    });
  }

  function setupMyApps() {
    if (!$('#my-apps') && !$('#my-apps-empty')) return;
    document.addEventListener('stackhub:event', function (e) {
      const ev = e.detail;
      const p = ev.payload || {};
      if ((ev.type === 'install.status' || ev.type === 'install.stage') && p.state !== 'removed' && !rows(p.instance).length) {
        addCard(p.instance);
        return;
      }
      if (ev.type === 'install.status') {
        rows(p.instance).forEach(function (row) {
          if (p.state === 'removed') removed(row);
          else if (p.status) setStatus(row, p.status, p.info);
          else refresh(row); // an upgrade's end names no status: ask
        });
      } else if (ev.type === 'install.stage' && p.event) {
        rows(p.instance).forEach(function (row) {
          const i = $('[data-info]', row);
          if (i) i.textContent = p.event.message;
        });
      }
    });
    // The operation just started from this page: follow its job to the end, then show the status it left.
    const list = $('#my-apps[data-follow-job]');
    if (list && window.EventSource) {
      const es = new EventSource('/api/v1/jobs/' + encodeURIComponent(list.dataset.followJob) + '/events');
      const target = rows(list.dataset.followApp);
      target.forEach(function (row) { row.setAttribute('aria-busy', 'true'); });
      es.addEventListener('stage', function (m) {
        const e = JSON.parse(m.data);
        target.forEach(function (row) {
          const i = $('[data-info]', row);
          if (i) i.textContent = e.message;
        });
      });
      es.addEventListener('result', function (m) {
        es.close();
        const job = JSON.parse(m.data);
        target.forEach(function (row) {
          row.removeAttribute('aria-busy');
          row.dataset.jobDone = job.state;
          refresh(row);
        });
      });
    }
    bindUninstall(document);
  }

  // ---- An app's page: followed logs and credentials on request. ----

  function setupLogs() {
    const pre = document.getElementById('logs');
    if (!pre || !window.ReadableStream || !window.TextDecoderStream) return;
    const state = document.getElementById('logs-state');
    const toggle = document.getElementById('logs-toggle');
    const max = parseInt(pre.dataset.max, 10) || 1000;
    let lines = [];
    let paused = false;
    let partial = '';
    function render() {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.textContent = lines.join('\n');
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    toggle.addEventListener('click', function () {
      paused = !paused;
      toggle.textContent = paused ? 'Follow' : 'Pause';
      toggle.setAttribute('aria-pressed', String(!paused));
      if (!paused) render();
    });
    const ctl = new AbortController();
    window.addEventListener('pagehide', function () { ctl.abort(); });
    fetch(pre.dataset.url, { credentials: 'same-origin', signal: ctl.signal }).then(function (res) {
      if (!res.ok) {
        state.textContent = 'the logs cannot be read (HTTP ' + res.status + ')';
        return;
      }
      state.textContent = 'following';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) {
            state.textContent = 'the log stream ended';
            return;
          }
          const parts = (partial + r.value).split('\n');
          partial = parts.pop();
          lines = lines.concat(parts);
          if (lines.length > max) lines = lines.slice(lines.length - max); // a bounded buffer
          pre.dataset.lines = String(lines.length);
          if (!paused) render();
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      if (err.name !== 'AbortError') state.textContent = 'the log stream broke: ' + err.message;
    });
  }

  function setupCredentials() {
    const show = document.getElementById('creds-show');
    if (!show) return;
    const hide = document.getElementById('creds-hide');
    const box = document.getElementById('creds');
    function clear() {
      box.replaceChildren();
      box.hidden = true;
      hide.hidden = true;
      show.hidden = false;
    }
    show.addEventListener('click', function () {
      show.disabled = true;
      fetch(show.dataset.url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(function (creds) {
          box.replaceChildren();
          const keys = Object.keys(creds).sort();
          if (!keys.length) box.appendChild(el('dt', {}, 'This app has no generated credentials.'));
          keys.forEach(function (k) {
            box.appendChild(el('dt', {}, k));
            box.appendChild(el('dd', {}, creds[k]));
          });
          box.hidden = false;
          show.hidden = true;
          hide.hidden = false;
          hide.focus();
        })
        .catch(function (err) { window.StackHub && window.StackHub.toast('Credentials: ' + err.message); })
        .finally(function () { show.disabled = false; });
    });
    hide.addEventListener('click', function () { clear(); show.focus(); });
    window.addEventListener('pagehide', clear); // not kept in the page cache
  }

  function start() {
    setupInstall();
    followJob($('main > section > #job-progress'));
    setupMyApps();
    setupLogs();
    setupCredentials();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
