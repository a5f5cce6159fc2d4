"""Settlement: payments, the double-entry ledger, payouts and statements."""
