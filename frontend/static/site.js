// Shared by every page: the CSRF token that cookie-authenticated API calls must echo.
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}
