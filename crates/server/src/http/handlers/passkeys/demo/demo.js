"use strict";
// The passkey demo: this server's own API, called with fetch, and the browser's own
// navigator.credentials. Tokens live in this closure only (no storage, no cookies).
(() => {
  const api = "/api/v1";
  const $ = (id) => document.getElementById(id);
  let token = null;

  // Each action ends in one of these states; `data-step` names the action, so a script
  // driving the page (the headless test) knows which one finished and how.
  function status(step, state, message) {
    const el = $("status");
    el.dataset.step = step;
    el.dataset.state = state;
    el.textContent = message;
  }

  async function call(method, path, body, bearer) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = "Bearer " + bearer;
    const res = await fetch(api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    return { status: res.status, body: json };
  }

  function problem(r) {
    return r.body && r.body.code ? r.status + " " + r.body.code + ": " + (r.body.detail || r.body.title) : "HTTP " + r.status;
  }

  // base64url <-> bytes, for browsers without the WebAuthn JSON methods.
  function bytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  function b64url(buffer) {
    let bin = "";
    for (const b of new Uint8Array(buffer)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Two ways from the server's JSON to the browser's objects and back: the browser's own
  // (parse*OptionsFromJSON, toJSON) where it has them, else by hand. `?encoding=manual`
  // forces the second, so both are exercised.
  const manual = {
    name: "manual",
    creation: (o) => ({
      ...o,
      challenge: bytes(o.challenge),
      user: { ...o.user, id: bytes(o.user.id) },
      excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })),
    }),
    request: (o) => ({
      ...o,
      challenge: bytes(o.challenge),
      allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })),
    }),
    credential: (c) => {
      const r = c.response;
      const response = { clientDataJSON: b64url(r.clientDataJSON) };
      if (r.attestationObject) {
        response.attestationObject = b64url(r.attestationObject);
        response.transports = r.getTransports ? r.getTransports() : [];
      } else {
        response.authenticatorData = b64url(r.authenticatorData);
        response.signature = b64url(r.signature);
        if (r.userHandle) response.userHandle = b64url(r.userHandle);
      }
      return {
        id: c.id,
        rawId: b64url(c.rawId),
        type: c.type,
        authenticatorAttachment: c.authenticatorAttachment || undefined,
        clientExtensionResults: c.getClientExtensionResults(),
        response,
      };
    },
  };
  const native = {
    name: "native",
    creation: (o) => PublicKeyCredential.parseCreationOptionsFromJSON(o),
    request: (o) => PublicKeyCredential.parseRequestOptionsFromJSON(o),
    credential: (c) => c.toJSON(),
  };
  const hasNative = typeof PublicKeyCredential !== "undefined"
    && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"
    && typeof PublicKeyCredential.prototype.toJSON === "function";
  const codec = new URLSearchParams(location.search).get("encoding") === "manual" || !hasNative ? manual : native;
  document.body.dataset.encoding = codec.name;

  async function get(options) {
    const credential = await navigator.credentials.get({ publicKey: codec.request(options) });
    return codec.credential(credential);
  }

  async function signedIn(step, login) {
    token = login.access_token;
    const sessions = await call("GET", "/auth/sessions", undefined, token);
    const current = sessions.status === 200 ? sessions.body.data.sessions.find((s) => s.current) : null;
    const who = $("who");
    who.dataset.signedIn = "true";
    who.dataset.aal = current ? String(current.aal) : "";
    who.dataset.amr = current ? current.amr.join(" ") : "";
    who.textContent = "Signed in as " + login.data.email + (current ? " (aal " + current.aal + ", amr " + current.amr.join(", ") + ")" : "") + ".";
    status(step, "done", "Signed in.");
  }

  // Runs `action` for the button `id`, reporting an exception (a refused ceremony, a
  // network failure) as the step's error.
  function on(id, action) {
    $(id).addEventListener("click", async () => {
      status(id, "busy", "Working…");
      try { await action(); } catch (e) { status(id, "error", (e && e.name ? e.name + ": " : "") + (e && e.message ? e.message : String(e))); }
    });
  }

  on("signup", async () => {
    const r = await call("POST", "/auth/register", { name: $("name").value, email: $("email").value, password: $("password").value });
    if (r.status === 201) status("signup", "done", "Account created: enter the code we mailed you.");
    else status("signup", "error", problem(r));
  });

  on("verify", async () => {
    const r = await call("POST", "/auth/verify-email", { email: $("email").value, code: $("code").value });
    if (r.status === 200) status("verify", "done", "Address verified: sign in with the password.");
    else status("verify", "error", problem(r));
  });

  on("login", async () => {
    const r = await call("POST", "/auth/login", { email: $("email").value, password: $("password").value });
    if (r.status === 200) return signedIn("login", r.body);
    if (r.status === 403 && r.body && r.body.code === "MFA_REQUIRED" && r.body.webauthn_options) {
      status("login", "busy", "Password accepted: now your passkey.");
      const credential = await get(r.body.webauthn_options);
      const v = await call("POST", "/auth/mfa/verify", { mfa_token: r.body.mfa_token, factor: "webauthn", credential });
      if (v.status === 200) return signedIn("login", v.body);
      return status("login", "error", problem(v));
    }
    status("login", "error", problem(r));
  });

  on("add-passkey", async () => {
    if (!token) return status("add-passkey", "error", "Sign in first.");
    const options = await call("POST", "/users/me/passkeys/options", { password: $("password").value }, token);
    if (options.status !== 200) return status("add-passkey", "error", problem(options));
    const created = await navigator.credentials.create({ publicKey: codec.creation(options.body) });
    const credential = codec.credential(created);
    const r = await call("POST", "/users/me/passkeys", { name: $("passkey-name").value, credential }, token);
    if (r.status !== 201) return status("add-passkey", "error", problem(r));
    const codes = $("recovery-codes");
    if (r.body.recovery_codes) {
      codes.textContent = "Recovery codes (shown once):\n" + r.body.recovery_codes.join("\n");
      codes.hidden = false;
    }
    status("add-passkey", "done", "Passkey “" + r.body.name + "” added.");
  });

  on("passkey-login", async () => {
    const options = await call("POST", "/auth/passkey/options", {});
    if (options.status !== 200) return status("passkey-login", "error", problem(options));
    const credential = await get(options.body);
    const r = await call("POST", "/auth/passkey/login", { credential });
    if (r.status === 200) return signedIn("passkey-login", r.body);
    status("passkey-login", "error", problem(r));
  });

  on("logout", async () => {
    if (token) await call("POST", "/auth/logout", {}, token);
    token = null;
    const who = $("who");
    who.dataset.signedIn = "false";
    who.dataset.aal = "";
    who.dataset.amr = "";
    who.textContent = "Not signed in.";
    $("recovery-codes").hidden = true;
    status("logout", "done", "Signed out.");
  });
})();
