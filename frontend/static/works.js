// My works: upload the chosen images with a progress bar, then list each file's outcome.
const form = document.getElementById('upload');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const request = new XMLHttpRequest();
  request.open('POST', '/api/v1/works/batch');
  request.setRequestHeader('X-CSRF-Token', csrfToken());
  request.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      document.getElementById('bar').style.width = (100 * e.loaded / e.total) + '%';
      document.getElementById('status').textContent = 'Uploading… ' + Math.round(100 * e.loaded / e.total) + '%';
    }
  };
  request.upload.onload = () => { document.getElementById('status').textContent = 'Fingerprinting and writing to the log…'; };
  request.onload = () => {
    const list = document.getElementById('results');
    list.innerHTML = '';
    const body = JSON.parse(request.responseText);
    const lines = Array.isArray(body) ? body : [{path: 'upload', error: body.detail}];
    for (const line of lines) {
      const item = document.createElement('li');
      const note = line.conflict ? ` (${line.conflict})` : '';
      item.textContent = line.error ? `✗ ${line.path}: ${line.error}` : `✓ ${line.path}: ${line.status}, work #${line.work_id}, log index ${line.log_index}${note}`;
      list.appendChild(item);
    }
    document.getElementById('status').textContent = 'Done.';
    setTimeout(() => window.location.reload(), 1500);
  };
  request.send(data);
});
