// My works: files dropped or chosen are registered one at a time, each with its own progress
// line; the server answers each file's result line, already worded in the page's language.
const form = document.getElementById('upload');
const drop = document.getElementById('drop');
const picker = document.getElementById('files');
const results = document.getElementById('results');
const status = document.getElementById('status');
const queue = [];
let running = false;
let done = 0;
let total = 0;

function progressLine(file) {
  const item = document.createElement('li');
  item.className = 'upload-result pending';
  const name = document.createElement('strong');
  name.className = 'file-name';
  name.textContent = file.name;
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute('aria-label', file.name);
  const note = document.createElement('span');
  note.className = 'muted';
  note.textContent = form.dataset.uploading;
  item.append(name, ' ', bar, ' ', note);
  results.prepend(item);
  return {item, bar, note};
}

function summary() {
  status.textContent = form.dataset.summary.replace('%(done)s', done).replace('%(total)s', total);
}

function send(file, line) {
  return new Promise((resolve) => {
    const data = new FormData();
    data.append('csrf_token', csrfToken());
    data.append('visibility', document.getElementById('visibility').value);
    data.append('file', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', '/works/upload');
    request.setRequestHeader('X-CSRF-Token', csrfToken());
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) line.bar.value = Math.round(100 * event.loaded / event.total);
    };
    request.upload.onload = () => { line.bar.value = 100; line.note.textContent = form.dataset.checking; };
    request.onload = () => {
      const answer = request.status === 200 ? request.responseText : '';
      if (answer.trim().startsWith('<li')) {
        const holder = document.createElement('ul');
        holder.innerHTML = answer;
        const result = holder.firstElementChild;
        line.item.replaceWith(result);
        const empty = document.getElementById('empty-state');
        if (empty && result.dataset.workId) empty.hidden = true;
      } else {
        line.item.className = 'upload-result refused';
        line.note.textContent = form.dataset.failed;
      }
      resolve();
    };
    request.onerror = () => {
      line.item.className = 'upload-result refused';
      line.note.textContent = form.dataset.failed;
      resolve();
    };
    request.send(data);
  });
}

async function drain() {
  if (running) return;
  running = true;
  while (queue.length) {
    const {file, line} = queue.shift();
    await send(file, line);
    done += 1;
    summary();
  }
  running = false;
}

function enqueue(files) {
  for (const file of files) {
    queue.push({file, line: progressLine(file)});
    total += 1;
  }
  summary();
  drain();
}

picker.addEventListener('change', () => { enqueue(Array.from(picker.files)); picker.value = ''; });
form.addEventListener('submit', (event) => { event.preventDefault(); enqueue(Array.from(picker.files)); });
for (const name of ['dragenter', 'dragover']) {
  drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add('over'); });
}
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  enqueue(Array.from(event.dataTransfer.files));
});
