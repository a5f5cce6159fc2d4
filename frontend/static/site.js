// Shared by every page: the CSRF token that cookie-authenticated API calls must echo.
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

// The header's menu collapses behind a button on narrow screens. Without this script the
// button stays hidden and the whole menu shows, so navigation never depends on script.
(function collapsibleMenu() {
  const header = document.querySelector('header.top');
  const toggle = header && header.querySelector('.menu-toggle');
  const menu = toggle && document.getElementById(toggle.getAttribute('aria-controls'));
  if (!menu) return;
  header.classList.add('collapsible');
  function setOpen(open) {
    toggle.setAttribute('aria-expanded', String(open));
    menu.classList.toggle('open', open);
  }
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && toggle.getAttribute('aria-expanded') === 'true') {
      setOpen(false);
      toggle.focus();
    }
  });
})();
