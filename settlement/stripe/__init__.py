"""Stripe: the payment gateway (the official `stripe` library), webhook signatures, the sandbox."""
