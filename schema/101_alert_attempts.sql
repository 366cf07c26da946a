-- Spike alerts count failed install attempts (store.AttemptsQuery), not
-- events, and carry what an on-call administrator acts on: the alert's
-- severity, the cause's advice and the catalog source of its meaning, the
-- failed attempts (the column failures holds them too, for older readers),
-- the attempts that finished on the key's scope in the bucket and the
-- failed share of them, and the devices' baseline. Existing rows read the
-- defaults: '', 0.
--
-- One column per statement, each idempotent: ClickHouse 18.16 cannot parse
-- ADD COLUMN IF NOT EXISTS, so the migrations runner applies such a
-- statement itself, adding the column only when system.columns lacks it.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS severity String;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS advice String;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS code_source String;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS attempts UInt64;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS finished UInt64;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS failed_share Float64;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS device_baseline Float64;
