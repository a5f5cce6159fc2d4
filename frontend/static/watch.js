// Monitoring pages: "choose all" on the alerts inbox, and a crawl's live counters.
(() => {
  const all = document.getElementById('select-all');
  if (all) {
    all.addEventListener('change', () => {
      for (const box of document.querySelectorAll('.choose-alert')) box.checked = all.checked;
    });
  }

  const progress = document.getElementById('crawl-progress');
  if (!progress) return;
  const url = progress.dataset.source;
  const show = (name, value) => {
    const field = progress.querySelector(`[data-field="${name}"]`);
    if (field && value !== undefined && value !== null) field.textContent = String(value);
  };
  const poll = async () => {
    let job;
    try {
      const response = await fetch(url, {headers: {Accept: 'application/json'}, cache: 'no-store'});
      if (!response.ok) throw new Error(String(response.status));
      job = await response.json();
    } catch (error) {
      window.setTimeout(poll, 3000);
      return;
    }
    show('pages_fetched', job.pages_fetched);
    show('images_checked', job.images_checked);
    show('alerts', job.alerts);
    const status = progress.querySelector('[data-field="status"]');
    if (status) {
      status.textContent = progress.dataset['status' + job.status[0].toUpperCase() + job.status.slice(1)] || job.status;
      status.className = 'badge job-status ' + job.status;
    }
    progress.dataset.state = job.status;
    if (job.status === 'queued' || job.status === 'running') {
      window.setTimeout(poll, 1000);
    } else {
      const done = document.getElementById('crawl-done');
      if (done) done.hidden = false;
      const problem = document.getElementById('crawl-error');
      if (problem && job.error) {
        problem.textContent = job.error;
        problem.hidden = false;
      }
    }
  };
  if (progress.dataset.state === 'queued' || progress.dataset.state === 'running') poll();
})();
