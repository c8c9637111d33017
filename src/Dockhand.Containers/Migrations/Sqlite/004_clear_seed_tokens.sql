-- The Python bot stored its terminal tokens in clear text in terminal_tokens. Dockhand never reads them (its own
-- one-time links live hashed in terminal_links), so any rows left behind are plaintext secrets at rest with no use.
-- Delete them; the table itself stays so the seed schema contract holds.
DELETE FROM terminal_tokens;
