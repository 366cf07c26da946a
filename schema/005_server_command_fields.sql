-- The fields of contract v1 that say what the MDM server asked: the CmdID,
-- MsgRef and CmdRef as sent (servers use UUIDs, which cmd_id and cmd_ref read
-- as 0), and the command events' command, payload error, MSI install job and
-- Office Deployment Tool configuration, the two objects flattened like
-- product. Existing rows read the defaults: '', 0, [].
--
-- One column per statement, each idempotent: ClickHouse 18.16 cannot parse
-- ADD COLUMN IF NOT EXISTS, so the migrations runner applies such a
-- statement itself, adding the column only when system.columns lacks it
-- (see internal/store, execStatement). Columns are added at the end of the
-- table; the INSERT names its columns.
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS cmd_id_raw String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msg_ref String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS cmd_ref_raw String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS command String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS payload_error String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_id String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_product_version String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_content_urls Array(String);
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_file_name String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_file_hash String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_command_line String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_timeout_min Int64;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_retry_count Int64;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_retry_interval_min Int64;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS office_product_ids Array(String);
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS office_channel String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS office_version String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS office_edition String;
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS office_languages Array(String);
ALTER TABLE install_events ADD COLUMN IF NOT EXISTS office_remove UInt8;
