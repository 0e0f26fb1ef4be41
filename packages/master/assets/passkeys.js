// The user portal's passkey buttons: register a passkey, sign in with one. SimpleWebAuthnBrowser comes from
// /account/assets/webauthn.js (@simplewebauthn/browser). Without JavaScript the password + code form still works.
(() => {
  const webauthn = window.SimpleWebAuthnBrowser;
  const csrf = document.querySelector('meta[name="csrf"]')?.getAttribute('content') ?? '';
  const status = document.getElementById('passkey-status');
  const say = (text) => {
    if (status) status.textContent = text;
  };
  for (const button of document.querySelectorAll('[data-passkey]')) button.hidden = !webauthn?.browserSupportsWebAuthn();

  async function post(url, body) {
    const response = await window.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body ?? {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error ?? `the server answered ${response.status}`);
    return data;
  }

  document.getElementById('passkey-register')?.addEventListener('click', async () => {
    try {
      say('Follow your browser or security key...');
      const optionsJSON = await post('/account/passkeys/options');
      const response = await webauthn.startRegistration({ optionsJSON });
      const label = document.querySelector('[name="passkey-label"]')?.value ?? '';
      await post('/account/passkeys', { response, label });
      window.location.assign('/account');
    } catch (err) {
      say(`No passkey was added: ${err.message}`);
    }
  });

  async function signIn(optionsUrl, body) {
    try {
      say('Follow your browser or security key...');
      const optionsJSON = await post(optionsUrl, body);
      const response = await webauthn.startAuthentication({ optionsJSON });
      const result = await post('/account/passkey-sign-in', { response });
      window.location.assign(result.next);
    } catch (err) {
      say(`Not signed in: ${err.message}`);
    }
  }

  // passwordless: the authenticator names the user
  document.getElementById('passkey-sign-in')?.addEventListener('click', () => signIn('/account/passkey-sign-in/options'));

  // the key as the second factor, after the password typed in the form
  document.getElementById('security-key-sign-in')?.addEventListener('click', () => {
    const value = (name) => document.querySelector(`[name="${name}"]`)?.value ?? '';
    return signIn('/account/passkey-sign-in/second-factor', { username: value('username'), password: value('password') });
  });
})();
