// A work's page: check its certificate again in the browser against the server's verifier.
const button = document.getElementById('check-in-browser');
const panel = document.getElementById('verify-panel');
if (button) {
  button.addEventListener('click', async () => {
    const status = document.getElementById('browser-check');
    status.textContent = panel.dataset.checking;
    try {
      const certificate = await (await fetch(`/api/v1/works/${button.dataset.workId}/certificate`)).json();
      const response = await fetch('/api/v1/certificates/verify', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken()},
        body: JSON.stringify(certificate),
      });
      const result = await response.json();
      status.textContent = result.valid
        ? panel.dataset.valid.replace('%(index)s', result.log_index).replace('%(size)s', result.tree_size)
        : `✗ ${result.reason || result.detail}`;
      status.className = result.valid ? 'ok' : 'bad';
    } catch (error) {
      status.textContent = panel.dataset.unreachable;
      status.className = 'bad';
    }
  });
}
