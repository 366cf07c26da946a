package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/event"
)

// Row is an event with the JetStream stream sequence it came from (0 when it
// did not come from the stream).
type Row struct {
	event.Event
	Seq uint64
}

// Column is a column of install_events.
type Column struct {
	Name string
	// Type is the ClickHouse type, as system.columns shows it.
	Type string
}

// storageColumns are the columns of install_events that hold no contract
// field, each inserted after the column named by after ("": last).
var storageColumns = [...]struct {
	Column
	after string
}{
	// The milliseconds of received_at, which a DateTime drops (DateTime64
	// does not exist on ClickHouse 18.16).
	{Column{"received_ms", "UInt16"}, "received_at"},
	// The JetStream sequence the row came from, for tracing.
	{Column{"stream_seq", "UInt64"}, ""},
}

// Columns returns the columns of install_events in the order of the
// INSERT, which appendColumns fills by position: the column of each field of
// event.Fields, in its order, and the storage-only columns received_ms
// (after received_at) and stream_seq (last).
func Columns() []Column {
	cols := make([]Column, 0, len(event.Fields)+len(storageColumns))
	for _, f := range event.Fields {
		cols = append(cols, Column{f.Column, f.Type})
		for _, sc := range storageColumns {
			if sc.after == f.Column {
				cols = append(cols, sc.Column)
			}
		}
	}
	for _, sc := range storageColumns {
		if sc.after == "" {
			cols = append(cols, sc.Column)
		}
	}
	return cols
}

// columns is the INSERT column list, in the order appendColumns fills them.
var columns = func() string {
	var b strings.Builder
	for i, c := range Columns() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
	}
	return b.String()
}()

// InsertQuery is the statement InsertRows prepares.
var InsertQuery = "INSERT INTO install_events (" + columns + ")"

// InsertEvents inserts events as rows with no stream sequence.
func (s *Store) InsertEvents(ctx context.Context, events []event.Event) error {
	rows := make([]Row, len(events))
	for i := range events {
		rows[i].Event = events[i]
	}
	return s.InsertRows(ctx, rows)
}

// InsertRows inserts rows in one native INSERT, sent in blocks of at most
// InsertBlockRows rows. ClickHouse writes the rows of one partition (month)
// atomically only while they fit in one block of its own (the server joins
// small client blocks up to min_insert_block_size_rows, a million rows by
// default); a batch spanning months is written as one part per month, so
// after an error some rows may be stored: callers retrying an insert must
// first drop the rows that exist (ExistingIDs). Errors are classified by
// Retryable.
func (s *Store) InsertRows(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	in, err := s.BeginInsert(ctx)
	if err != nil {
		return err
	}
	for start := 0; start < len(rows); start += InsertBlockRows {
		if err := in.Write(rows[start:min(start+InsertBlockRows, len(rows))]); err != nil {
			in.Abort()
			return err
		}
	}
	return in.Commit()
}

// InsertBlockRows is the largest block InsertRows sends at once: bigger
// blocks gain little on the wire and make the driver's column buffers grow
// (and be collected) in steps of megabytes.
const InsertBlockRows = 10_000

// Insert is one INSERT statement into install_events that rows are streamed
// into: each Write sends a block while the caller gathers the next, and
// Commit ends the statement. Until Commit returns nil nothing is known to be
// stored, and after an error any part of what was written may be (see
// InsertRows). An Insert holds one connection of the pool until Commit or
// Abort; it is not safe for concurrent use.
type Insert interface {
	// Write appends rows and sends them to the server as one block.
	Write(rows []Row) error
	// Commit ends the statement and waits until the server accepted it.
	Commit() error
	// Abort ends the statement by closing its connection. ClickHouse 18.16
	// takes that for the end of the data and stores the blocks written so
	// far, so after an Abort they must be checked (ExistingIDs) like after
	// any failed insert.
	Abort()
}

// BeginInsert opens an INSERT into install_events. ctx bounds the whole
// statement, up to Commit.
func (s *Store) BeginInsert(ctx context.Context) (Insert, error) {
	b, err := s.conn.PrepareBatch(ctx, InsertQuery)
	if err != nil {
		return nil, fmt.Errorf("clickhouse insert: %w", err)
	}
	return &insert{batch: b}, nil
}

// insert is the Insert of a clickhouse-go batch. Flushing every Write keeps
// the driver's column buffers at one block's size, reused from block to
// block, instead of growing to the whole statement's.
type insert struct {
	batch   driver.Batch
	scratch columnScratch
	done    bool
}

func (in *insert) Write(rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	if err := appendColumns(in.batch, &in.scratch, rows); err != nil {
		return fmt.Errorf("clickhouse insert: %w", err)
	}
	if err := in.batch.Flush(); err != nil {
		return fmt.Errorf("clickhouse insert: %w", err)
	}
	return nil
}

func (in *insert) Commit() error {
	in.done = true
	in.scratch.release()
	if err := in.batch.Send(); err != nil {
		return fmt.Errorf("clickhouse insert: %w", err)
	}
	return nil
}

func (in *insert) Abort() {
	if in.done {
		return
	}
	in.done = true
	in.scratch.release()
	_ = in.batch.Abort() // only reports a batch already sent
}

// Column counts by type, in the order of columns (TestAppendColumnsFollowFields
// checks them against event.Fields).
const (
	numStrCols  = 41
	numIntCols  = 7
	numArrCols  = 3 // Array(String)
	numFlagCols = 1 // UInt8 from a bool
)

// columnScratch holds the column slices of one block. clickhouse-go copies
// what a column's Append is given, so an Insert reuses them from block to
// block.
type columnScratch struct {
	strs  [numStrCols][]string
	ints  [numIntCols][]int64
	arrs  [numArrCols][][]string
	flags [numFlagCols][]uint8
	ver   []uint8
	at    []time.Time
	ms    []uint16
	seq   []uint64
}

func (c *columnScratch) reset(n int) {
	for i := range c.strs {
		c.strs[i] = resize(c.strs[i], n)
	}
	for i := range c.ints {
		c.ints[i] = resize(c.ints[i], n)
	}
	for i := range c.arrs {
		c.arrs[i] = resize(c.arrs[i], n)
	}
	for i := range c.flags {
		c.flags[i] = resize(c.flags[i], n)
	}
	c.ver, c.at, c.ms, c.seq = resize(c.ver, n), resize(c.at, n), resize(c.ms, n), resize(c.seq, n)
}

// release drops the strings the scratch refers to, so that an Insert kept
// around does not keep a batch's events reachable.
func (c *columnScratch) release() {
	for i := range c.strs {
		clear(c.strs[i][:cap(c.strs[i])])
	}
	for i := range c.arrs {
		clear(c.arrs[i][:cap(c.arrs[i])])
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// appendColumns fills batch column by column, which is several times faster
// than row-wise Append in clickhouse-go. It reads each row once. The columns
// are those of Columns, by position: a field added to event.Fields must be
// added here too, as TestAppendColumnsFollowFields says.
func appendColumns(batch driver.Batch, c *columnScratch, rows []Row) error {
	n := len(rows)
	c.reset(n)
	s, d, a, fl := &c.strs, &c.ints, &c.arrs, &c.flags
	for i := range rows {
		r := &rows[i]
		c.ver[i] = uint8(r.SchemaVersion)
		t := r.ReceivedAt.UTC()
		c.at[i] = t.Truncate(time.Second)
		c.ms[i] = uint16(t.Nanosecond() / int(time.Millisecond))
		c.seq[i] = r.Seq
		s[0][i] = r.EventID
		s[1][i] = r.Tenant
		s[2][i] = r.DeviceID
		s[3][i] = r.SessionID
		s[4][i] = r.MsgID
		s[5][i] = r.Kind
		d[0][i] = r.CmdID
		d[1][i] = r.CmdRef
		s[6][i] = r.Scope
		s[7][i] = r.CSP
		s[8][i] = r.TargetID
		s[9][i] = r.Node
		s[10][i] = r.LocURI
		d[2][i] = r.Code
		s[11][i] = r.CodeHex
		d[3][i] = r.Win32Code
		s[12][i] = r.CodeSpace
		s[13][i] = r.CodeName
		s[14][i] = r.Outcome
		s[15][i] = r.Category
		s[16][i] = r.AlertType
		s[17][i] = r.Mark
		s[18][i] = r.Text
		s[19][i] = r.OriginalError
		s[20][i] = r.MDMReceivedAt
		s[21][i] = r.GenericAlert
		if p := r.Product; p != nil {
			s[22][i], s[23][i], s[24][i] = p.Name, p.Version, p.Publisher
			s[25][i], s[26][i], s[27][i] = p.InstallDate, p.InstallPath, p.LastErrorDesc
		} else {
			s[22][i], s[23][i], s[24][i], s[25][i], s[26][i], s[27][i] = "", "", "", "", "", ""
		}
		s[28][i], s[29][i], s[30][i], s[31][i], s[32][i] = r.CmdIDRaw, r.MsgRef, r.CmdRefRaw, r.Command, r.PayloadError
		if j := r.MSIJob; j != nil {
			s[33][i], s[34][i], s[35][i], s[36][i], s[37][i] = j.ID, j.ProductVersion, j.FileName, j.FileHash, j.CommandLine
			a[0][i] = orEmpty(j.ContentURLs)
			d[4][i], d[5][i], d[6][i] = j.TimeoutMin, j.RetryCount, j.RetryIntervalMin
		} else {
			s[33][i], s[34][i], s[35][i], s[36][i], s[37][i] = "", "", "", "", ""
			a[0][i] = []string{}
			d[4][i], d[5][i], d[6][i] = 0, 0, 0
		}
		if o := r.OfficeConfig; o != nil {
			s[38][i], s[39][i], s[40][i] = o.Channel, o.Version, o.Edition
			a[1][i], a[2][i] = orEmpty(o.ProductIDs), orEmpty(o.Languages)
			fl[0][i] = 0
			if o.Remove {
				fl[0][i] = 1
			}
		} else {
			s[38][i], s[39][i], s[40][i] = "", "", ""
			a[1][i], a[2][i] = []string{}, []string{}
			fl[0][i] = 0
		}
	}
	// The order of columns.
	cols := [...]any{
		s[0], c.ver, c.at, c.ms, s[1], s[2], s[3], s[4], s[5], // event_id .. kind
		d[0], d[1], s[6], s[7], s[8], s[9], s[10], // cmd_id .. loc_uri
		d[2], s[11], d[3], s[12], s[13], s[14], s[15], s[16], s[17], s[18], s[19], s[20], s[21], // code .. mdm_generic_alert
		s[28], s[29], s[30], s[31], s[32], // cmd_id_raw .. payload_error
		s[22], s[23], s[24], s[25], s[26], s[27], // product_*
		s[33], s[34], a[0], s[35], s[36], s[37], d[4], d[5], d[6], // msi_job_*
		a[1], s[38], s[39], s[40], a[2], fl[0], // office_*
		c.seq,
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// orEmpty is ss, or an empty array for nil: the driver writes both alike,
// and the scratch then holds no nil.
func orEmpty(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// existingChunk bounds the ids of one existence query, keeping the query text
// (about 35 bytes an id) under the server's default max_query_size of 256 KiB.
const existingChunk = 4000

// ExistingIDs returns which event_ids of rows are already in install_events
// with a received_at from lookback before the earliest of rows to the
// latest. The tenants and that range narrow the scan to the parts that can
// hold them (partition min/max index and the sort key), so the cost grows
// with the data of the range, not with the table. A redelivered message has
// the received_at it had (lookback 0 finds it); an event republished through
// ingest later has a new one, and only a lookback reaching back to its first
// copy finds that.
func (s *Store) ExistingIDs(ctx context.Context, rows []Row, lookback time.Duration) (map[string]struct{}, error) {
	found := make(map[string]struct{})
	for start := 0; start < len(rows); start += existingChunk {
		chunk := rows[start:min(start+existingChunk, len(rows))]
		ids := make([]any, len(chunk))
		tenantSet := make(map[string]struct{})
		lo, hi := chunk[0].ReceivedAt, chunk[0].ReceivedAt
		for i := range chunk {
			ids[i] = chunk[i].EventID
			tenantSet[chunk[i].Tenant] = struct{}{}
			if t := chunk[i].ReceivedAt; t.Before(lo) {
				lo = t
			} else if t.After(hi) {
				hi = t
			}
		}
		lo = lo.Add(-lookback)
		tenants := make([]any, 0, len(tenantSet))
		for t := range tenantSet {
			tenants = append(tenants, t)
		}
		// GroupSet binds as a parenthesised list; a plain slice would bind
		// as an array, which IN rejects on 18.16.
		q := "SELECT event_id FROM install_events WHERE tenant IN ? AND received_at >= ? AND received_at <= ? AND event_id IN ?"
		r, err := s.conn.Query(ctx, q, clickhouse.GroupSet{Value: tenants},
			lo.UTC().Truncate(time.Second), hi.UTC().Truncate(time.Second), clickhouse.GroupSet{Value: ids})
		if err != nil {
			return nil, fmt.Errorf("clickhouse existing ids: %w", err)
		}
		for r.Next() {
			var id string
			if err := r.Scan(&id); err != nil {
				r.Close()
				return nil, fmt.Errorf("clickhouse existing ids: %w", err)
			}
			found[id] = struct{}{}
		}
		err = r.Err()
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("clickhouse existing ids: %w", err)
		}
	}
	return found, nil
}
