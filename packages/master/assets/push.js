// The push approval page's passkey button: an assertion with user verification approves the login.
(() => {
  const webauthn = window.SimpleWebAuthnBrowser;
  const csrf = document.querySelector('meta[name="csrf"]')?.getAttribute('content') ?? '';
  const status = document.getElementById('push-status');
  const button = document.getElementById('push-approve');
  if (!button) return;
  async function post(url, body) {
    const response = await window.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body ?? {}) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error ?? 'the server answered ' + response.status);
    return data;
  }
  button.addEventListener('click', async () => {
    const id = button.getAttribute('data-push');
    const number = document.querySelector('input[name="number"]:checked')?.value;
    if (document.querySelector('input[name="number"]') && !number) {
      status.textContent = 'Pick the number your login shows first.';
      return;
    }
    try {
      status.textContent = 'Follow your browser or security key...';
      const optionsJSON = await post('/account/push/' + id + '/options');
      const response = await webauthn.startAuthentication({ optionsJSON });
      const result = await post('/account/push/' + id + '/passkey', { response, number });
      window.location.assign(result.next);
    } catch (err) {
      status.textContent = 'Not approved: ' + err.message;
    }
  });
})();
