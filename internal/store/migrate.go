package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/schema"
)

// Migration is one numbered file of schema/.
type Migration struct {
	Version int
	Name    string
	// Statements are the file's statements without their final ";".
	Statements []string
	// Requires is the oldest server version ([major, minor]) the migration
	// runs on; zero for every version.
	Requires [2]int
	Checksum string
}

// Migrations parses the embedded migration files, ordered by version.
func Migrations() ([]Migration, error) { return parseMigrations(schema.FS) }

func parseMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			continue // queries.sql and other non-migrations
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration %d: both %s and %s", v, prev, name)
		}
		seen[v] = name
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		m := Migration{Version: v, Name: strings.TrimSuffix(rest, ".sql"), Checksum: hex.EncodeToString(sum[:8])}
		text := string(data)
		if first, _, _ := strings.Cut(text, "\n"); strings.HasPrefix(first, "-- requires:") {
			want := strings.TrimSpace(strings.TrimPrefix(first, "-- requires:"))
			maj, minr, ok := strings.Cut(want, ".")
			a, err1 := strconv.Atoi(maj)
			b, err2 := strconv.Atoi(minr)
			if !ok || err1 != nil || err2 != nil {
				return nil, fmt.Errorf("migration %s: bad requires %q", name, want)
			}
			m.Requires = [2]int{a, b}
		}
		m.Statements = splitStatements(text)
		if len(m.Statements) == 0 {
			return nil, fmt.Errorf("migration %s: no statements", name)
		}
		for i, st := range m.Statements {
			if _, err := parseAddColumn(st); err != nil {
				return nil, fmt.Errorf("migration %s statement %d: %w", name, i+1, err)
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// splitStatements drops "--" comment lines and splits on ";" at the end of a
// line. Migrations are ours, so this simple grammar is a rule for writing them
// rather than a SQL parser.
func splitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			st := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSpace(strings.TrimSuffix(st, ";")))
			cur.Reset()
		}
	}
	if st := strings.TrimSpace(cur.String()); st != "" {
		out = append(out, st)
	}
	return out
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime
) ENGINE = MergeTree ORDER BY version`

// MigrateResult says what Migrate did.
type MigrateResult struct {
	Applied []int // versions applied by this call
	Pending []int // versions waiting for a newer server
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, in order, and records each after its last statement.
// It is idempotent, and safe when several processes start together: every
// statement is itself idempotent, so the worst case is a migration run twice
// and recorded twice (readers use DISTINCT). A migration whose "requires"
// is newer than the server is left pending.
func (s *Store) Migrate(ctx context.Context) (MigrateResult, error) {
	var res MigrateResult
	ms, err := Migrations()
	if err != nil {
		return res, fmt.Errorf("migrations: %w", err)
	}
	// tables are the names the migrations create, which cluster mode
	// qualifies and turns into their local tables.
	tables := map[string]bool{}
	run := func(sts ...string) error {
		for _, st := range sts {
			if err := s.execStatement(ctx, st); err != nil {
				return err
			}
		}
		return nil
	}
	if s.cfg.Cluster != "" {
		run = func(sts ...string) error {
			var all []string
			for _, st := range sts {
				cst, err := ClusterStatements(st, s.cfg.Cluster, s.cfg.Database, tables)
				if err != nil {
					return err
				}
				all = append(all, cst...)
			}
			return s.execClusterStatements(ctx, all)
		}
	}
	if err := s.checkMode(ctx); err != nil {
		return res, err
	}
	if err := run(migrationsTable); err != nil {
		return res, fmt.Errorf("migrations table: %w", err)
	}
	if err := s.checkLayout(ctx); err != nil {
		return res, err
	}
	if s.cfg.Cluster != "" {
		// Finish what an interrupted run left (see syncDistributed).
		if err := s.syncDistributed(ctx); err != nil {
			return res, err
		}
	}
	done, err := s.AppliedMigrations(ctx)
	if err != nil {
		return res, err
	}
	major, minor, err := s.ServerVersion()
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		if _, ok := done[m.Version]; ok {
			if s.cfg.Cluster != "" {
				// Learn the names applied migrations created.
				for _, st := range m.Statements {
					_, _ = ClusterStatements(st, s.cfg.Cluster, s.cfg.Database, tables)
				}
			}
			continue
		}
		if m.Requires != [2]int{} && (major < m.Requires[0] || major == m.Requires[0] && minor < m.Requires[1]) {
			res.Pending = append(res.Pending, m.Version)
			continue
		}
		if s.cfg.Cluster != "" {
			// One migration at once: its ADD COLUMNs of a table become one
			// ALTER, as every ON CLUSTER statement costs a round of the
			// distributed DDL queue.
			if err := run(m.Statements...); err != nil {
				return res, fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
			}
		} else {
			for i, st := range m.Statements {
				if err := run(st); err != nil {
					return res, fmt.Errorf("migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
				}
			}
		}
		if s.cfg.Cluster != "" {
			if err := s.syncDistributed(ctx); err != nil {
				return res, fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
			}
		}
		// INSERT ... SELECT rather than VALUES: clickhouse-go's Exec of an
		// INSERT with inline VALUES waits forever on 18.16.
		err := s.conn.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at) SELECT ?, ?, ?, ?",
			uint32(m.Version), m.Name, m.Checksum, time.Now().UTC().Truncate(time.Second))
		if err != nil {
			return res, fmt.Errorf("migration %03d_%s record: %w", m.Version, m.Name, err)
		}
		res.Applied = append(res.Applied, m.Version)
	}
	return res, nil
}

// addColumnRE matches the one ALTER a migration may make conditional with
// ADD COLUMN IF NOT EXISTS: a single column added to a table of the
// database.
var addColumnRE = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$`)

// clusterAddColumnRE is addColumnRE's cluster form (ClusterStatements):
// ALTER TABLE t ON CLUSTER c ADD COLUMN IF NOT EXISTS col Type.
var clusterAddColumnRE = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+([A-Za-z_][A-Za-z0-9_]*)\s+ON\s+CLUSTER\s+([A-Za-z_][A-Za-z0-9_]*)\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$`)

// addColumn is an ALTER TABLE t ADD COLUMN IF NOT EXISTS c ... statement.
type addColumn struct {
	table, column string
	// plain is the statement without IF NOT EXISTS.
	plain string
}

// parseAddColumn recognises a statement that adds a column if it does not
// exist. It returns nil for any other statement, and an error for one that
// says ADD COLUMN IF NOT EXISTS in any other form than addColumnRE's, such
// as several columns in one ALTER, which Migrate could not apply one by one.
func parseAddColumn(st string) (*addColumn, error) {
	if !ifNotExistsRE.MatchString(st) {
		return nil, nil
	}
	if m := clusterAddColumnRE.FindStringSubmatch(st); m != nil && !addClauseRE.MatchString(m[4]) {
		return &addColumn{table: m[1], column: m[3], plain: "ALTER TABLE " + m[1] + " ON CLUSTER " + m[2] + " ADD COLUMN " + m[3] + " " + m[4]}, nil
	}
	m := addColumnRE.FindStringSubmatch(st)
	if m == nil || addClauseRE.MatchString(m[3]) {
		return nil, fmt.Errorf("ADD COLUMN IF NOT EXISTS must add one column, as ALTER TABLE t ADD COLUMN IF NOT EXISTS c Type: %.80q", st)
	}
	return &addColumn{table: m[1], column: m[2], plain: "ALTER TABLE " + m[1] + " ADD COLUMN " + m[2] + " " + m[3]}, nil
}

var (
	ifNotExistsRE = regexp.MustCompile(`(?i)\bADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\b`)
	addClauseRE   = regexp.MustCompile(`(?i)\bADD\s+COLUMN\b`)
)

// execStatement runs one statement of a migration. ClickHouse 18.16 cannot
// parse ADD COLUMN IF NOT EXISTS, and 19.x versions fail it on an existing
// column: Migrate applies such a statement itself, on every server, by
// adding the column only when system.columns lacks it. A column that another
// process added meanwhile makes the ALTER fail, and is then found present.
func (s *Store) execStatement(ctx context.Context, st string) error {
	ac, err := parseAddColumn(st)
	if err != nil {
		return err
	}
	if ac == nil {
		return s.conn.Exec(ctx, st)
	}
	if ok, err := s.columnExists(ctx, ac.table, ac.column); err != nil || ok {
		return err
	}
	err = s.conn.Exec(ctx, ac.plain)
	if err != nil {
		if ok, cerr := s.columnExists(ctx, ac.table, ac.column); cerr == nil && ok {
			return nil
		}
	}
	return err
}

// columnExists reports whether table of the store's database has column.
func (s *Store) columnExists(ctx context.Context, table, column string) (bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?",
		table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("columns of %s: %w", table, err)
	}
	return n > 0, nil
}

// AppliedMigrations returns the recorded versions with their checksums.
func (s *Store) AppliedMigrations(ctx context.Context) (map[int]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version, checksum FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations read: %w", err)
	}
	defer rows.Close()
	done := map[int]string{}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("migrations read: %w", err)
		}
		done[int(v)] = sum
	}
	return done, rows.Err()
}

// ErrOldLayout is returned by Migrate on a database whose install_events
// predates idempotent storage: its rows could be counted twice, and the
// engine of a table cannot be changed in place. It is permanent until an
// operator runs schema/upgrade_idempotent_storage.sql.
var ErrOldLayout = errors.New("install_events is a plain MergeTree from before exactly-once storage: run schema/upgrade_idempotent_storage.sql (see README, Upgrading)")

// checkLayout refuses the layout of migrations 001-003 as first released,
// where a replayed event counted twice in every table.
func (s *Store) checkLayout(ctx context.Context) error {
	rows, err := s.conn.Query(ctx, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'install_events'")
	if err != nil {
		return fmt.Errorf("migrations layout: %w", err)
	}
	defer rows.Close()
	var engine string
	for rows.Next() {
		if err := rows.Scan(&engine); err != nil {
			return fmt.Errorf("migrations layout: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrations layout: %w", err)
	}
	if engine == "MergeTree" {
		return ErrOldLayout
	}
	return nil
}

// checkMode refuses a database whose schema was created in the other mode:
// in cluster mode every CREATE ... IF NOT EXISTS would find the single
// server's tables on this node and do nothing, leaving the other nodes
// without tables; on one server, later migrations would reach only the
// node connected to. schema_migrations tells the mode: Distributed in
// cluster mode, a MergeTree on one server.
func (s *Store) checkMode(ctx context.Context) error {
	var engine string
	err := s.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'").Scan(&engine)
	if errors.Is(err, sql.ErrNoRows) || err == nil && engine == "" {
		return nil // a new database
	}
	if err != nil {
		return fmt.Errorf("schema mode: %w", err)
	}
	switch distributed := engine == "Distributed"; {
	case s.cfg.Cluster != "" && !distributed:
		return fmt.Errorf("%w: database %s was created for one server (schema_migrations is %s): --clickhouse-cluster needs a new database, into which the events are copied (README, Running in production)", ErrSetup, s.cfg.Database, engine)
	case s.cfg.Cluster == "" && distributed:
		return fmt.Errorf("%w: database %s was created in cluster mode: give --clickhouse-cluster", ErrSetup, s.cfg.Database)
	}
	return nil
}
