-- server_commands holds the MDM server's commands (kind = 'command' events,
-- posted to ingest's /v1/syncml/commands), keyed the way a device's Status or
-- Results answers one: the session, the server message's MsgID (the answer's
-- MsgRef) and the command's CmdID as sent (the answer's CmdRef; servers often
-- use UUIDs). A device answers a Get of .../MSI/{id}/Status with 404 and no
-- TargetRef: only this key ties that answer to the product.
--
-- Why a join at read time and not at ingest or in the aggregator: a command
-- and its answer arrive in either order, through any ingest replica, in any
-- batch of any aggregator, before or after a restart. Stored as they came,
-- both are facts; the join finds them whenever it runs, so attribution does
-- not depend on arrival order at all, survives every restart, and a command
-- stored twice (a redelivery) is one row after FINAL, a match either way.
-- One command may carry items for several nodes: it attributes its answer
-- only when they name one (csp, target_id).
CREATE TABLE IF NOT EXISTS server_commands (
    tenant      String,
    device_id   String,
    session_id  String,
    msg_id      String,
    cmd_id_raw  String,
    command     String,
    scope       String,
    csp         String,
    target_id   String,
    node        String,
    loc_uri     String,
    received_at DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant, device_id, session_id, msg_id, cmd_id_raw, csp, target_id, node);

CREATE MATERIALIZED VIEW IF NOT EXISTS server_commands_mv
TO server_commands
AS SELECT
    tenant, device_id, session_id, msg_id, cmd_id_raw, command, scope, csp, target_id, node, loc_uri, received_at
FROM install_events
WHERE kind = 'command' AND cmd_id_raw != '' AND target_id != '';
