"""Salesforce records (Tasks, leads, contacts, opportunities, ...) → raw-table rows."""
