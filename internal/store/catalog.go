package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Sources of product_catalog rows (schema/007), and their priorities: for
// each field, readers take the value of the highest-priority source that
// has one.
const (
	// SourceAdmin rows come from a file an administrator loads.
	SourceAdmin = "admin"
	// SourceInventory rows are the newest product a device reported.
	SourceInventory = "inventory"
	// SourceCommand rows label a target by the server's install command.
	SourceCommand = "command"
)

// SourcePriority is the priority of a catalog source; 0 for an unknown one.
func SourcePriority(source string) uint8 {
	switch source {
	case SourceAdmin:
		return 3
	case SourceInventory:
		return 2
	case SourceCommand:
		return 1
	}
	return 0
}

// UnknownProduct is appended to a target id no catalog source names, so
// that a bare id is never taken for a name.
const UnknownProduct = " (unknown product)"

// UnknownLabel is how a target nothing names is shown: "ID (unknown product)".
func UnknownLabel(targetID string) string { return targetID + UnknownProduct }

// catalogSelect reads product_catalog, one row per (tenant, csp, target_id)
// with the best known value of each field: argMaxIf by priority over the
// sources that have one. FINAL keeps one row per source (the newest), so a
// row written twice counts once. %s is an extra condition (" AND ...").
const catalogSelect = `SELECT tenant, csp, target_id,
		argMaxIf(name, priority, name != '') AS cat_name,
		argMaxIf(version, priority, version != '') AS cat_version,
		argMaxIf(publisher, priority, publisher != '') AS cat_publisher,
		argMaxIf(office_products, priority, office_products != '') AS cat_office_products,
		argMaxIf(office_channel, priority, office_channel != '') AS cat_office_channel,
		max(name != '') AS cat_known
	FROM product_catalog FINAL
	WHERE 1 = 1%s
	GROUP BY tenant, csp, target_id`

// CatalogQuery is the catalog's read path as a subquery: per (tenant, csp,
// target_id), cat_name, cat_version, cat_publisher, cat_office_products and
// cat_office_channel, each the value of the highest-priority source that
// has one (admin, then inventory, then command), and cat_known (UInt8),
// whether any source named the target. Join it with
// ANY LEFT JOIN (...) USING (tenant, csp, target_id) and show ProductLabelSQL.
var CatalogQuery = fmt.Sprintf(catalogSelect, "")

// ProductLabelSQL is the product's name for display in a query joined with
// CatalogQuery: the catalog's name, or the target id marked unknown.
const ProductLabelSQL = "if(cat_known, cat_name, concat(target_id, '" + UnknownProduct + "'))"

// catalogJoin is CatalogQuery restricted by cond (" AND ..."), ready to be
// joined.
func catalogJoin(cond string) string {
	return "ANY LEFT JOIN (\n\t" + fmt.Sprintf(catalogSelect, cond) + "\n) USING (tenant, csp, target_id)"
}

// ProductKey names a product of a tenant: the CSP and its target id.
type ProductKey struct {
	Tenant, CSP, TargetID string
}

// Product is the catalog's best knowledge of one target.
type Product struct {
	ProductKey
	// Name, Version and Publisher are each the value of the highest-priority
	// source that has one: admin, then inventory, then command.
	Name, Version, Publisher string
	// OfficeProducts (comma-joined product ids) and OfficeChannel come from
	// the Office install command.
	OfficeProducts, OfficeChannel string
	// Known says a source named the target (Name is not empty).
	Known bool
}

// Label is the product's name, or its target id marked unknown.
func (p Product) Label() string {
	if p.Known {
		return p.Name
	}
	return UnknownLabel(p.TargetID)
}

// AdminProduct is one product an administrator names (catalog source
// admin). TargetID must be normalised as events are (see package catalog).
type AdminProduct struct {
	Tenant, CSP, TargetID    string
	Name, Version, Publisher string
}

const catalogColumns = "tenant, csp, target_id, source, priority, name, version, publisher, office_products, office_channel, updated_at"

// InsertAdminProducts stores products as catalog rows of source admin
// updated at now (whole seconds). A product loaded again replaces its
// earlier admin row (the newest wins) and leaves the other sources alone;
// loading the same file twice changes nothing a reader sees.
func (s *Store) InsertAdminProducts(ctx context.Context, products []AdminProduct, now time.Time) error {
	if len(products) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO product_catalog ("+catalogColumns+")")
	if err != nil {
		return fmt.Errorf("catalog insert: %w", err)
	}
	at := now.UTC().Truncate(time.Second)
	for _, p := range products {
		if p.Tenant == "" || p.CSP == "" || p.TargetID == "" {
			_ = batch.Abort()
			return fmt.Errorf("catalog insert: product %+v lacks tenant, csp or target id", p)
		}
		err := batch.Append(p.Tenant, p.CSP, p.TargetID, SourceAdmin, SourcePriority(SourceAdmin),
			p.Name, p.Version, p.Publisher, "", "", at)
		if err != nil {
			_ = batch.Abort()
			return fmt.Errorf("catalog insert: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("catalog insert: %w", err)
	}
	return nil
}

// Catalog returns the catalog's best knowledge of every target of a tenant
// (all tenants when empty), ordered by tenant, CSP and target id.
func (s *Store) Catalog(ctx context.Context, tenant string) ([]Product, error) {
	cond, args := tenantFilter(tenant, nil)
	return queryProducts(ctx, s.conn, fmt.Sprintf(catalogSelect, cond)+"\n\tORDER BY tenant, csp, target_id", args)
}

// Products returns the catalog's best knowledge of each key. Every key has
// an entry; a key nothing names has Known false and only its key set.
func (s *Store) Products(ctx context.Context, keys []ProductKey) (map[ProductKey]Product, error) {
	return LookupProducts(ctx, s.conn, keys)
}

// LookupProducts is Store.Products on a connection, for readers that hold
// one (internal/alerts). It reads the catalog's rows of the keys only, in
// chunks that keep each query well under ClickHouse's max_query_size.
func LookupProducts(ctx context.Context, conn driver.Conn, keys []ProductKey) (map[ProductKey]Product, error) {
	out := make(map[ProductKey]Product, len(keys))
	var uniq []ProductKey
	for _, k := range keys {
		if _, dup := out[k]; !dup {
			out[k] = Product{ProductKey: k}
			uniq = append(uniq, k)
		}
	}
	for start := 0; start < len(uniq); start += lookupChunk {
		chunk := uniq[start:min(start+lookupChunk, len(uniq))]
		var (
			b    strings.Builder
			args = make([]any, 0, 3*len(chunk))
		)
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, k.Tenant, k.CSP, k.TargetID)
		}
		found, err := queryProducts(ctx, conn, fmt.Sprintf(catalogSelect, " AND (tenant, csp, target_id) IN ("+b.String()+")"), args)
		if err != nil {
			return nil, err
		}
		for _, p := range found {
			out[p.ProductKey] = p
		}
	}
	return out, nil
}

// lookupChunk is the keys LookupProducts asks for in one query.
const lookupChunk = 500

func queryProducts(ctx context.Context, conn driver.Conn, q string, args []any) ([]Product, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog read: %w", err)
	}
	defer rows.Close()
	var out []Product
	for rows.Next() {
		var (
			p     Product
			known uint8
		)
		if err := rows.Scan(&p.Tenant, &p.CSP, &p.TargetID, &p.Name, &p.Version, &p.Publisher,
			&p.OfficeProducts, &p.OfficeChannel, &known); err != nil {
			return nil, fmt.Errorf("catalog read: %w", err)
		}
		p.Known = known != 0
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog read: %w", err)
	}
	return out, nil
}
