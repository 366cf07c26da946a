package clickhousetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Rows runs q with args on conn and returns its rows as strings, fields
// joined by "|": a time as UTC "YYYY-MM-DD hh:mm:ss", an array of strings
// as [a,b], any other value as fmt.Sprint prints it. A query error fails t
// with the query.
func Rows(t testing.TB, conn driver.Conn, q string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var got []string
	types := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := reflect.ValueOf(v).Elem().Interface().(type) {
			case time.Time:
				parts[i] = x.UTC().Format(time.DateTime)
			case []string:
				parts[i] = "[" + strings.Join(x, ",") + "]"
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		got = append(got, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
