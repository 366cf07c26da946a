package store

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
)

// recordingBatch records what appendColumns appends to each column.
type recordingBatch struct {
	driver.Batch // nil: appendColumns calls Column only
	cols         map[int][]any
}

func (b *recordingBatch) Column(i int) driver.BatchColumn { return recordingColumn{b, i} }

type recordingColumn struct {
	b *recordingBatch
	i int
}

func (c recordingColumn) Append(v any) error {
	c.b.cols[c.i] = append(c.b.cols[c.i], v)
	return nil
}

func (c recordingColumn) AppendRow(any) error { return fmt.Errorf("column %d: AppendRow", c.i) }

// columnValue is what column c of install_events holds for row r, in the Go
// type appendColumns gives the driver for it.
func columnValue(t *testing.T, c Column, r *Row) any {
	t.Helper()
	switch c.Name {
	case "received_ms":
		return uint16(r.ReceivedAt.UTC().Nanosecond() / int(time.Millisecond))
	case "stream_seq":
		return r.Seq
	}
	for _, f := range event.Fields {
		if f.Column != c.Name {
			continue
		}
		v := eventtest.Get(&r.Event, f)
		switch v := v.(type) {
		case int: // schema_version
			return uint8(v)
		case bool:
			if v {
				return uint8(1)
			}
			return uint8(0)
		case []string:
			if v == nil {
				return []string{}
			}
		case time.Time:
			return v.UTC().Truncate(time.Second)
		}
		return v
	}
	t.Fatalf("column %s is neither a field nor storage-only", c.Name)
	return nil
}

// TestAppendColumnsFollowFields: the INSERT names the columns of
// event.Fields in its order, with the storage-only ones; and appendColumns
// fills exactly as many columns, each with its own field: for rows with
// every field set to a value of its own, column i holds the value of the
// field whose column Columns()[i] names.
func TestAppendColumnsFollowFields(t *testing.T) {
	cols := Columns()
	var fromFields []string
	nStr, nInt, nArr, nFlag := 0, 0, 0, 0
	for _, f := range event.Fields {
		fromFields = append(fromFields, f.Column)
		switch f.Type {
		case "String":
			nStr++
		case "Int64":
			nInt++
		case "Array(String)":
			nArr++
		case "UInt8":
			if f.JSON != "schema_version" {
				nFlag++
			}
		}
	}
	var named, storage []string
	for _, c := range cols {
		named = append(named, c.Name)
		if c.Name == "received_ms" || c.Name == "stream_seq" {
			storage = append(storage, c.Name)
		}
	}
	if len(storage) != len(storageColumns) {
		t.Fatalf("Columns lists storage-only columns %v, want %d", storage, len(storageColumns))
	}
	var withoutStorage []string
	for _, n := range named {
		if n != "received_ms" && n != "stream_seq" {
			withoutStorage = append(withoutStorage, n)
		}
	}
	if !reflect.DeepEqual(withoutStorage, fromFields) {
		t.Fatalf("INSERT columns %v\nevent.Fields columns %v", withoutStorage, fromFields)
	}
	if nStr != numStrCols || nInt != numIntCols || nArr != numArrCols || nFlag != numFlagCols {
		t.Fatalf("event.Fields has %d String, %d Int64, %d Array(String) and %d flag columns; appendColumns fills %d, %d, %d and %d",
			nStr, nInt, nArr, nFlag, numStrCols, numIntCols, numArrCols, numFlagCols)
	}

	full := eventtest.Full()
	bare := full
	bare.EventID, bare.Product, bare.MSIJob, bare.OfficeConfig = "e-bare", nil, nil, nil
	rows := []Row{{Event: full, Seq: 77}, {Event: bare, Seq: 78}}
	b := &recordingBatch{cols: map[int][]any{}}
	var scratch columnScratch
	if err := appendColumns(b, &scratch, rows); err != nil {
		t.Fatal(err)
	}
	if len(b.cols) != len(cols) {
		t.Fatalf("appendColumns filled %d columns, the INSERT names %d: %s", len(b.cols), len(cols), columns)
	}
	for i, c := range cols {
		appended := b.cols[i]
		if len(appended) != 1 {
			t.Fatalf("column %d (%s): %d appends, want 1", i, c.Name, len(appended))
		}
		v := reflect.ValueOf(appended[0])
		if v.Kind() != reflect.Slice || v.Len() != len(rows) {
			t.Fatalf("column %d (%s): appended %T of length %d, want a slice of %d", i, c.Name, appended[0], v.Len(), len(rows))
		}
		for r := range rows {
			if got, want := v.Index(r).Interface(), columnValue(t, c, &rows[r]); !reflect.DeepEqual(got, want) {
				t.Errorf("column %d (%s), row %d: appendColumns gives %#v, the field holds %#v", i, c.Name, r, got, want)
			}
		}
	}
}
