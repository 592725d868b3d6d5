// Account page: two-step sign-in (TOTP) and passkeys, through /api/v1/account. Recovery codes are shown once,
// straight from the answer that made them.
'use strict';
(function () {
  const api = window.stackhubPasskeys;
  const error = document.getElementById('account-error');
  if (!api || !error) return;

  function fail(e) {
    error.textContent = e.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : e.message;
    error.hidden = false;
  }

  function showCodes(codes) {
    const list = document.getElementById('recovery-codes');
    list.replaceChildren();
    codes.forEach(function (c) {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = c;
      li.appendChild(code);
      list.appendChild(li);
    });
    document.getElementById('recovery').hidden = false;
  }

  function on(id, event, fn) {
    const el = document.getElementById(id);
    if (!el) return;
    el.addEventListener(event, async function (ev) {
      ev.preventDefault();
      error.hidden = true;
      try { await fn(el); } catch (e) { fail(e); }
    });
  }

  on('totp-enable', 'click', async function (button) {
    const e = await api.post('/api/v1/account/totp');
    document.getElementById('totp-qr').src = e.qr;
    document.getElementById('totp-secret').textContent = e.secret;
    document.getElementById('totp-setup').hidden = false;
    button.hidden = true;
    document.getElementById('totp-code').focus();
  });

  on('totp-confirm', 'submit', async function (form) {
    const r = await api.post('/api/v1/account/totp/confirm', { code: form.code.value });
    document.getElementById('totp-setup').hidden = true;
    document.getElementById('totp-state').textContent = 'On: signing in asks for a code from your authenticator app after the password.';
    showCodes(r.recovery_codes);
  });

  on('recovery-new', 'submit', async function (form) {
    const r = await api.post('/api/v1/account/recovery-codes', { code: form.code.value });
    form.reset();
    showCodes(r.recovery_codes);
  });

  on('totp-disable', 'submit', async function (form) {
    await api.post('/api/v1/account/totp/disable', { code: form.code.value, password: form.password.value });
    window.location.reload();
  });

  on('passkey-add', 'submit', async function (form) {
    const c = await api.post('/api/v1/account/passkeys/options');
    const credential = await api.create(c.options);
    await api.post('/api/v1/account/passkeys', { ceremony: c.ceremony, name: form.name.value, credential: credential });
    window.location.reload();
  });

  document.querySelectorAll('.passkey-delete').forEach(function (b) {
    b.addEventListener('click', async function () {
      if (!window.confirm('Delete this passkey? It will no longer sign you in.')) return;
      error.hidden = true;
      try {
        await api.post('/api/v1/account/passkeys/' + encodeURIComponent(b.dataset.id), undefined, 'DELETE');
        window.location.reload();
      } catch (e) { fail(e); }
    });
  });
})();
