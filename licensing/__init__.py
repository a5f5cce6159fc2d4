"""Licensing: contracts as data, the split engine, offers, license grants and sales reports."""
