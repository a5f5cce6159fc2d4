// The log page: check a pasted or chosen certificate against the server's verifier.
(() => {
  const text = document.getElementById('certificate-json');
  const result = document.getElementById('certificate-result');
  const say = (ok, message) => {
    result.className = ok ? 'verdict ok' : 'verdict bad';
    result.textContent = message;
  };
  document.getElementById('certificate-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) text.value = await file.text();
  });
  document.getElementById('certificate-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    let certificate;
    try {
      certificate = JSON.parse(text.value);
    } catch (error) {
      say(false, '✗ This is not JSON: ' + error.message);
      return;
    }
    const response = await fetch('/api/v1/certificates/verify', {
      method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken()},
      body: JSON.stringify(certificate),
    });
    const body = await response.json();
    if (!response.ok) {
      say(false, '✗ ' + (body.detail || 'the server refused the certificate'));
    } else if (body.valid) {
      say(true, `✓ Valid: leaf ${body.log_index} is in the signed tree of ${body.tree_size} leaves.`);
    } else {
      say(false, '✗ Not valid: ' + body.reason);
    }
  });
})();
