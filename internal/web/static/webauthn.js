// Passkeys: navigator.credentials.create/get with the base64url conversions WebAuthn's JSON needs, and the
// "Sign in with a passkey" button of the sign-in pages. account.js uses window.stackhubPasskeys too.
'use strict';
(function () {
  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - b64.length % 4) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }

  // create registers a passkey from the server's PublicKeyCredentialCreationOptions (JSON) and returns the
  // browser's answer as JSON.
  async function create(options) {
    const pk = Object.assign({}, options.publicKey || options);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    const cred = await navigator.credentials.create({ publicKey: pk });
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        attestationObject: toB64url(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : [],
      },
    };
  }

  // get signs in with a passkey from the server's PublicKeyCredentialRequestOptions (JSON) and returns the
  // browser's answer as JSON.
  async function get(options) {
    const pk = Object.assign({}, options.publicKey || options);
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    const cred = await navigator.credentials.get({ publicKey: pk });
    const r = cred.response;
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : undefined,
      },
    };
  }

  // post sends JSON and returns the JSON answer; an error answer throws its message.
  async function post(url, body, method) {
    const res = await fetch(url, {
      method: method || 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : {};
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    return data;
  }

  window.stackhubPasskeys = { create: create, get: get, post: post };

  const box = document.getElementById('passkey-signin');
  if (!box) return;
  const button = document.getElementById('passkey-button');
  const error = document.getElementById('passkey-error');
  if (!window.PublicKeyCredential) {
    box.hidden = true;
    return;
  }
  button.addEventListener('click', async function () {
    error.hidden = true;
    button.disabled = true;
    const second = box.dataset.second === '1';
    try {
      const c = await post('/ui/signin/passkey/options', { second: second });
      const credential = await get(c.options);
      const done = await post('/ui/signin/passkey', {
        second: second, ceremony: c.ceremony, credential: credential, next: box.dataset.next,
      });
      window.location.assign(done.redirect || '/');
    } catch (e) {
      error.textContent = e.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : e.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
