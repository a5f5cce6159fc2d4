// The contract form: the shares' total and each field's problem as the person types, and the
// engine's split of a sample sale drawn as a bar and a table (the server computes both).
const form = document.getElementById('contract-form');
const total = document.getElementById('share-total');
const title = document.getElementById('split-title');
const bar = document.getElementById('split-bar');
const body = document.querySelector('#split-table tbody');
let pending = null;
let sequence = 0;

function showTotal() {
  let sum = 0;
  for (const input of form.querySelectorAll('.share-input')) {
    const value = parseFloat(input.value.replace('%', ''));
    if (!Number.isNaN(value)) sum += value;
  }
  const rounded = Math.round(sum * 100) / 100;
  const text = form.dataset.total.replace('%(total)s', rounded).replace('%%', '%');
  // Rewriting an unchanged line on the blur a click starts with loses that click.
  if (total.textContent !== text) total.textContent = text;
  total.classList.toggle('bad', rounded !== 100);
}

function showProblems(problems) {
  for (const slot of form.querySelectorAll('.field-problem')) {
    slot.textContent = problems[slot.dataset.field] || '';
  }
}

function showSplit(split) {
  bar.replaceChildren();
  body.replaceChildren();
  if (!split) return;
  title.textContent = split.title;
  split.lines.forEach((line, index) => {
    const segment = document.createElement('span');
    segment.className = `seg-${index % 6}`;
    segment.style.width = `${line.percent}%`;
    segment.title = `${line.label}: ${line.amount}`;
    bar.append(segment);
    const row = document.createElement('tr');
    const who = document.createElement('td');
    const swatch = document.createElement('span');
    swatch.className = `swatch-cell seg-${index % 6}`;
    who.append(swatch, line.label);
    const amount = document.createElement('td');
    amount.className = 'amount';
    amount.textContent = line.amount;
    const percent = document.createElement('td');
    percent.className = 'amount';
    percent.textContent = `${line.percent}%`;
    row.append(who, amount, percent);
    body.append(row);
  });
}

async function preview() {
  const mine = ++sequence;
  const data = new FormData(form);
  try {
    const response = await fetch(form.dataset.preview, {
      method: 'POST',
      headers: {'X-CSRF-Token': csrfToken()},
      body: new URLSearchParams(data),
    });
    const answer = await response.json();
    if (mine !== sequence) return;
    showProblems(answer.problems || {});
    showSplit(answer.split);
  } catch (error) {
    // The preview is a help, not a gate: the server checks everything again on submit.
  }
}

function schedule() {
  showTotal();
  clearTimeout(pending);
  pending = setTimeout(preview, 250);
}

form.addEventListener('input', schedule);
form.addEventListener('change', schedule);
for (const field of document.querySelectorAll('[form="contract-form"]')) {
  field.addEventListener('input', schedule);
  field.addEventListener('change', schedule);
}
schedule();
