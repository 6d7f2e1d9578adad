-- Rollback of 0003_fix_email_direction, in one transaction.  The
-- normalised direction values stay: the original spellings were not kept
-- anywhere, and 'inbound'/'outbound' are valid free text under 0000.
ALTER TABLE email_messages
    DROP CONSTRAINT email_messages_status_check,
    DROP CONSTRAINT email_messages_direction_check,
    ALTER COLUMN direction DROP NOT NULL;
