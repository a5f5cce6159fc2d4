"""Settlement use cases by aggregate: the ledger, payments, processor webhooks."""
