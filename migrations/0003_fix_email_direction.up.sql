-- 0003_fix_email_direction: email_messages.direction becomes a closed set,
-- 'inbound' or 'outbound', and status gets its list of values.
--
-- Before this fix the column was free text: the different code paths wrote
-- 'incoming', 'received', 'IN', 'outgoing', 'sent', 'OUT' or nothing at
-- all.  Known spellings are mapped; anything else is derived from the
-- older folder column, which was always set ('sent', 'outbox' and
-- 'drafts' hold our own mail).
--
-- A data migration: it runs in one transaction, so the backfill and the
-- constraints that depend on it take effect together or not at all.  The
-- ALTER TABLE holds an ACCESS EXCLUSIVE lock on email_messages until the
-- commit, for about one scan of the table.
-- Rollback: 0003_fix_email_direction.down.sql.

UPDATE email_messages
SET direction = CASE
        WHEN lower(btrim(direction)) IN ('outbound', 'outgoing', 'out', 'sent')
            THEN 'outbound'
        WHEN lower(btrim(direction)) IN ('inbound', 'incoming', 'in',
                                         'received')
            THEN 'inbound'
        WHEN folder IN ('sent', 'outbox', 'drafts') THEN 'outbound'
        ELSE 'inbound'
    END
WHERE direction IS NULL OR direction NOT IN ('inbound', 'outbound');

ALTER TABLE email_messages
    ALTER COLUMN direction SET NOT NULL,
    ADD CONSTRAINT email_messages_direction_check
        CHECK (direction IN ('inbound', 'outbound')),
    ADD CONSTRAINT email_messages_status_check
        CHECK (status IN ('draft', 'queued', 'sending', 'sent', 'delivered',
                          'opened', 'bounced', 'failed', 'received', 'read',
                          'archived'));
