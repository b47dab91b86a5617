"""plategate gate controller: ledger, tariff, decisions and the camera process."""
