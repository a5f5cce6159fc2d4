// The payment page: the processor's card form (Stripe.js, or the sandbox's stand-in) tokenises
// the card in the browser; only the token's card id is posted to Copymark.
(function () {
  "use strict";
  const form = document.getElementById("pay-form");
  if (!form || typeof window.Stripe !== "function") {
    return;
  }
  const problem = document.getElementById("pay-error");
  const stripe = window.Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  const mount = document.getElementById("card");
  card.mount(mount);
  // The sandbox's inputs carry only placeholders: wrap each in a visible label, in the page's
  // language, so it is named for everyone (Stripe's own form lives in a frame and needs none).
  const labels = JSON.parse(form.dataset.cardLabels || "[]");
  mount.querySelectorAll("input").forEach(function (input, index) {
    if (!labels[index]) {
      return;
    }
    const label = document.createElement("label");
    label.className = "card-field card-field-" + index;
    const name = document.createElement("span");
    name.textContent = labels[index];
    input.replaceWith(label);
    label.append(name, input);
    input.removeAttribute("placeholder");
    input.setAttribute("inputmode", "numeric");
    input.setAttribute("autocomplete", "off");
  });

  function show(message) {
    problem.textContent = message;
    problem.hidden = false;
  }

  form.addEventListener("submit", async function (event) {
    if (document.getElementById("payment-method").value) {
      return;
    }
    event.preventDefault();
    const button = document.getElementById("pay");
    button.disabled = true;
    try {
      const result = await stripe.createToken(card);
      if (result.error || !result.token) {
        show((result.error && result.error.message) || String(result.error || "card refused"));
        button.disabled = false;
        return;
      }
      document.getElementById("payment-method").value = result.token.card.id;
      form.submit();
    } catch (error) {
      show(String(error));
      button.disabled = false;
    }
  });
})();
