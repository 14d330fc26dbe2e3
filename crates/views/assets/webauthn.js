// Security keys on Guichet's own pages: registration on the security page and
// the second login step. The server sends WebAuthn options as JSON with
// base64url strings; the browser API wants ArrayBuffers, and back again.
"use strict";

(function () {
  function toBuffer(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const pad = b64.length % 4 === 0 ? "" : "=".repeat(4 - (b64.length % 4));
    const bin = atob(b64 + pad);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await resp.json();
    } catch (_) {
      data = { error: "The server answered " + resp.status + "." };
    }
    if (!resp.ok) throw new Error(data.error || "The server answered " + resp.status + ".");
    return data;
  }

  function showError(root, message) {
    const el = root.querySelector("#webauthn-error") || document.getElementById("webauthn-error");
    if (el) {
      el.textContent = message;
      el.hidden = false;
    }
  }

  async function register(root) {
    const csrf = root.dataset.csrf;
    const label = (document.getElementById("label") || {}).value || "";
    if (!label.trim()) {
      showError(root, "Enter a description first.");
      return;
    }
    const begun = await post("/account/security/webauthn/begin", { csrf: csrf });
    const pk = begun.options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) {
      c.id = toBuffer(c.id);
    });
    const cred = await navigator.credentials.create({ publicKey: pk });
    const credential = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        attestationObject: toBase64url(cred.response.attestationObject),
        clientDataJSON: toBase64url(cred.response.clientDataJSON),
      },
    };
    const done = await post("/account/security/webauthn/finish", {
      csrf: csrf,
      ceremony: begun.ceremony,
      label: label,
      credential: credential,
      next: root.dataset.next || "",
    });
    window.location.assign(done.redirect);
  }

  async function login(root) {
    const csrf = root.dataset.csrf;
    const begun = await post("/login/2fa/webauthn/begin", { csrf: csrf });
    const pk = begun.options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) {
      c.id = toBuffer(c.id);
    });
    const cred = await navigator.credentials.get({ publicKey: pk });
    const credential = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        authenticatorData: toBase64url(cred.response.authenticatorData),
        clientDataJSON: toBase64url(cred.response.clientDataJSON),
        signature: toBase64url(cred.response.signature),
        userHandle: cred.response.userHandle ? toBase64url(cred.response.userHandle) : null,
      },
    };
    const done = await post("/login/2fa/webauthn/finish", {
      csrf: csrf,
      ceremony: begun.ceremony,
      credential: credential,
      next: root.dataset.next || "",
    });
    window.location.assign(done.redirect);
  }

  function wire(rootId, buttonId, action) {
    const root = document.getElementById(rootId);
    const button = document.getElementById(buttonId);
    if (!root || !button) return;
    if (!window.PublicKeyCredential) {
      showError(root, "This browser does not support security keys. Use another method or another browser.");
      button.disabled = true;
      return;
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      action(root)
        .catch(function (e) {
          showError(root, e && e.message ? e.message : "The security key did not answer.");
        })
        .finally(function () {
          button.disabled = false;
        });
    });
  }

  wire("webauthn-register", "webauthn-register-button", register);
  wire("webauthn-login", "webauthn-login-button", login);
})();
