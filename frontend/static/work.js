// A work's page: check its certificate again in the browser against the server's verifier.
const button = document.getElementById('check-in-browser');
button.addEventListener('click', async () => {
  const status = document.getElementById('browser-check');
  status.textContent = 'Checking…';
  try {
    const certificate = await (await fetch(`/api/v1/works/${button.dataset.workId}/certificate`)).json();
    const response = await fetch('/api/v1/certificates/verify', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken()},
      body: JSON.stringify(certificate),
    });
    const result = await response.json();
    status.textContent = result.valid
      ? `✓ valid: leaf ${result.log_index} of a signed tree of ${result.tree_size}`
      : `✗ ${result.reason || result.detail}`;
    status.className = result.valid ? 'ok' : 'bad';
  } catch (error) {
    status.textContent = '✗ could not reach the server: ' + error;
    status.className = 'bad';
  }
});
