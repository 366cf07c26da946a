-- product_catalog names the products of each tenant: what a target id (an
-- MSI ProductCode or upgrade code, an Office installation id) is called. A
-- failed install's alert names only the target id; a device names the
-- product (Name, Version, Publisher) only in inventory Results, usually
-- after a success. The catalog gathers every name any device of the tenant
-- reported, the label of the server's install command, and the names an
-- administrator loads (`aggregator catalog load`), so that reports and
-- alerts can name a product no failing device named.
--
-- One row per (tenant, csp, target_id, source). source and priority:
--   admin      3  loaded from a file by `aggregator catalog load` or
--                 `aggregator run --products`; updated_at is the load time
--   inventory  2  the newest product name any device reported for the target
--                 (Results and inventory events); updated_at is received_at
--   command    1  the install command the server sent: the MSI file name or
--                 the Office product ids, a label used only when nothing
--                 better is known; updated_at is received_at
-- priority is written by every writer (a view cannot fill a DEFAULT on
-- 18.16). Readers take, per field, the value of the highest-priority source
-- that has one (store.CatalogQuery).
--
-- Exactly once: ReplacingMergeTree(updated_at) keeps, per key, the row with
-- the newest updated_at (of equals, the last inserted). A row written twice
-- (a redelivered batch pushed through the views again, a file loaded
-- twice) is the same key with the same values, so it changes nothing a
-- reader sees. Read with FINAL, grouped by (tenant, csp, target_id). An old
-- event redelivered late has an old received_at and does not replace a
-- newer name.
--
-- The views group each inserted block by target, so a batch of 50,000
-- events writes one row per target it names rather than one per event.
-- 18.16 resolves an alias before a column of the same name (see 003): the
-- aliases that are also columns of install_events (office_channel) are used
-- nowhere else in their view, and argMax(office_channel, ...) AS
-- office_channel reads the column.
CREATE TABLE IF NOT EXISTS product_catalog (
    tenant          String,
    csp             String,
    target_id       String,
    source          String,
    priority        UInt8,
    name            String,
    version         String,
    publisher       String,
    office_products String,
    office_channel  String,
    updated_at      DateTime
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant, csp, target_id, source);

-- (a) inventory: any event of any device that carried a product name.
CREATE MATERIALIZED VIEW IF NOT EXISTS product_catalog_inventory_mv
TO product_catalog
AS SELECT
    tenant,
    csp,
    target_id,
    'inventory' AS source,
    toUInt8(2) AS priority,
    argMax(product_name, received_at) AS name,
    argMax(product_version, received_at) AS version,
    argMax(product_publisher, received_at) AS publisher,
    '' AS office_products,
    '' AS office_channel,
    max(received_at) AS updated_at
FROM install_events
WHERE target_id != '' AND product_name != ''
GROUP BY tenant, csp, target_id;

-- (b) command: the server's install command (columns of migration 005). Its
-- name is a label: the MSI file name; for Office, "Microsoft 365 Apps" when
-- an O365*/M365* product id is installed, else the first product id.
CREATE MATERIALIZED VIEW IF NOT EXISTS product_catalog_command_mv
TO product_catalog
AS SELECT
    tenant,
    csp,
    target_id,
    'command' AS source,
    toUInt8(1) AS priority,
    argMax(if(notEmpty(office_product_ids), if(arrayExists(x -> upper(x) LIKE 'O365%' OR upper(x) LIKE 'M365%', office_product_ids), 'Microsoft 365 Apps', office_product_ids[1]), msi_job_file_name), received_at) AS name,
    argMax(if(msi_job_product_version != '', msi_job_product_version, office_version), received_at) AS version,
    '' AS publisher,
    argMax(arrayStringConcat(office_product_ids, ','), received_at) AS office_products,
    argMax(office_channel, received_at) AS office_channel,
    max(received_at) AS updated_at
FROM install_events
WHERE kind = 'command' AND target_id != ''
    AND (msi_job_product_version != '' OR msi_job_file_name != '' OR notEmpty(office_product_ids))
GROUP BY tenant, csp, target_id;

-- The events stored before this migration, once (one read of
-- install_events): the same rows the views would have written, so running
-- this again (a migration cut off half-way), or beside the views, changes
-- nothing.
INSERT INTO product_catalog (tenant, csp, target_id, source, priority, name, version, publisher, office_products, office_channel, updated_at)
SELECT
    tenant,
    csp,
    target_id,
    'inventory',
    toUInt8(2),
    argMax(product_name, received_at),
    argMax(product_version, received_at),
    argMax(product_publisher, received_at),
    '',
    '',
    max(received_at)
FROM install_events
WHERE target_id != '' AND product_name != ''
GROUP BY tenant, csp, target_id;

INSERT INTO product_catalog (tenant, csp, target_id, source, priority, name, version, publisher, office_products, office_channel, updated_at)
SELECT
    tenant,
    csp,
    target_id,
    'command',
    toUInt8(1),
    argMax(if(notEmpty(office_product_ids), if(arrayExists(x -> upper(x) LIKE 'O365%' OR upper(x) LIKE 'M365%', office_product_ids), 'Microsoft 365 Apps', office_product_ids[1]), msi_job_file_name), received_at),
    argMax(if(msi_job_product_version != '', msi_job_product_version, office_version), received_at),
    '',
    argMax(arrayStringConcat(office_product_ids, ','), received_at),
    argMax(office_channel, received_at),
    max(received_at)
FROM install_events
WHERE kind = 'command' AND target_id != ''
    AND (msi_job_product_version != '' OR msi_job_file_name != '' OR notEmpty(office_product_ids))
GROUP BY tenant, csp, target_id;
