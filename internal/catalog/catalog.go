// Package catalog reads the product files an administrator loads into the
// product catalog (schema/007, source admin) with `aggregator catalog load
// FILE` or `aggregator run --products FILE`.
//
// A file is CSV or JSON. CSV has a header naming its columns, in any order:
// tenant, csp, target_id and name are required, version and publisher
// optional:
//
//	tenant,csp,target_id,name,version,publisher
//	contoso,msi,{6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34},Contoso VPN,2.1.0,Contoso Ltd
//	contoso,office,{A1B2C3D4-0000-4000-8000-000000000001},Microsoft 365 Apps (Current),,Microsoft
//
// JSON is an array of objects with the same keys, string values:
//
//	[{"tenant": "contoso", "csp": "msi", "target_id": "{6F7CB29F-...}", "name": "Contoso VPN"}]
//
// csp is msi or office, or the CSP's name as events carry it
// (EnterpriseDesktopAppManagement, Office), in any case. target_id is
// normalised by event.TargetID, as ingest normalises the ids of events:
// percent-encoding and braces removed, a GUID in upper case, so that
// {6f7cb29f-...} and %7B6F7CB29F-...%7D name the same product. Every row is checked, and every
// error is reported with its line number; a file with any error loads
// nothing.
package catalog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// MaxFileSize bounds a product file: a catalog of a few hundred thousand
// products fits well within it.
const MaxFileSize = 64 << 20

// maxErrors bounds the errors reported for one file.
const maxErrors = 20

// Columns are the keys of a product row, in the documented order.
var Columns = []string{"tenant", "csp", "target_id", "name", "version", "publisher"}

var required = map[string]bool{"tenant": true, "csp": true, "target_id": true, "name": true}

// ReadFile reads and checks the product file at path: JSON when its name
// ends in .json, CSV when it ends in .csv, otherwise JSON when its first
// character (after spaces) is '['.
func ReadFile(path string) ([]store.AdminProduct, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxFileSize>>20)
	}
	return Parse(path, data)
}

// Parse checks a product file's content; name (a path) chooses the format
// as ReadFile does and prefixes the errors.
func Parse(name string, data []byte) ([]store.AdminProduct, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM, as spreadsheets write
	var (
		rows []row
		errs []lineError
		err  error
	)
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".json":
		rows, errs, err = parseJSON(data)
	case ext == ".csv":
		rows, errs, err = parseCSV(data)
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("[")):
		rows, errs, err = parseJSON(data)
	default:
		rows, errs, err = parseCSV(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ps, cerrs := check(rows)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", name, joinErrors(errs))
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%s: no products", name)
	}
	return ps, nil
}

// lineError is what is wrong with one line of a file.
type lineError struct {
	line int
	msg  string
}

func lineErrorf(line int, format string, args ...any) lineError {
	return lineError{line, fmt.Sprintf(format, args...)}
}

// row is one product as read, with the line it starts on.
type row struct {
	line   int
	fields map[string]string
}

// parseCSV reads the rows of a CSV file; errs are the lines that are not
// rows, err a file that cannot be read further.
func parseCSV(data []byte) (rows []row, errs []lineError, err error) {
	if !utf8.Valid(data) {
		return nil, nil, errors.New("not UTF-8")
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, errors.New("empty file: want a header line " + strings.Join(Columns, ","))
	}
	if err != nil {
		return nil, nil, err
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		cols[i] = h
		switch {
		case h == "":
			errs = append(errs, lineErrorf(1, "column %d has no name", i+1))
		case !isColumn(h):
			errs = append(errs, lineErrorf(1, "unknown column %q (want %s)", header[i], strings.Join(Columns, ", ")))
		case seen[h]:
			errs = append(errs, lineErrorf(1, "column %q twice", h))
		}
		seen[h] = true
	}
	for _, c := range Columns {
		if required[c] && !seen[c] {
			errs = append(errs, lineErrorf(1, "no column %q (the header must name %s)", c, strings.Join(Columns, ",")))
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil // the rows cannot be read without their columns
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A csv.ParseError names its line; the rest of the file
			// cannot be trusted.
			return nil, nil, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) != len(cols) {
			errs = append(errs, lineErrorf(line, "%d fields, the header names %d", len(rec), len(cols)))
			continue
		}
		f := make(map[string]string, len(cols))
		for i, c := range cols {
			f[c] = rec[i]
		}
		rows = append(rows, row{line: line, fields: f})
	}
	return rows, errs, nil
}

func isColumn(name string) bool {
	for _, c := range Columns {
		if c == name {
			return true
		}
	}
	return false
}

// parseJSON reads an array of objects, keeping the line each starts on;
// errs are the elements that are not rows, err a file that cannot be read
// further.
func parseJSON(data []byte) (rows []row, errs []lineError, err error) {
	if !utf8.Valid(data) {
		return nil, nil, errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(off, int64(len(data)))], []byte("\n")) }
	// A syntax error's offset names its line.
	wrap := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("line %d: %v", lineAt(se.Offset), err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("line %d: %s: want a string, not %s", lineAt(te.Offset), te.Field, te.Value)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: unexpected end of the file", lineAt(int64(len(data))))
		}
		return err
	}
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, nil, errors.New("empty file: want a JSON array of products")
	}
	if err != nil {
		return nil, nil, wrap(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, nil, fmt.Errorf("line %d: want a JSON array of products", lineAt(dec.InputOffset()))
	}
	for dec.More() {
		start := dec.InputOffset()
		// InputOffset is the end of the previous token: skip to the value.
		for start < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		line := lineAt(start)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, wrap(err)
		}
		if len(raw) == 0 || raw[0] != '{' {
			errs = append(errs, lineErrorf(line, "want an object with keys %s", strings.Join(Columns, ", ")))
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			errs = append(errs, lineErrorf(line, "%v", err))
			continue
		}
		f := map[string]string{}
		bad := false
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := obj[k]
			if !isColumn(k) {
				errs = append(errs, lineErrorf(line, "unknown key %q (want %s)", k, strings.Join(Columns, ", ")))
				bad = true
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				errs = append(errs, lineErrorf(line, "%s: want a string, not %s", k, v))
				bad = true
				continue
			}
			f[k] = s
		}
		if !bad {
			rows = append(rows, row{line: line, fields: f})
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, wrap(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("line %d: data after the array", lineAt(dec.InputOffset()))
	}
	return rows, errs, nil
}

// check validates and normalises rows.
func check(rows []row) (out []store.AdminProduct, errs []lineError) {
	first := map[store.ProductKey]int{}
	for _, r := range rows {
		get := func(k string) string { return strings.TrimSpace(r.fields[k]) }
		p := store.AdminProduct{
			Tenant: get("tenant"), Name: get("name"), Version: get("version"), Publisher: get("publisher"),
		}
		var rowErrs []string
		if p.Tenant == "" {
			rowErrs = append(rowErrs, "tenant is empty")
		}
		csp, ok := CSP(get("csp"))
		switch {
		case get("csp") == "":
			rowErrs = append(rowErrs, "csp is empty (want msi or office)")
		case !ok:
			rowErrs = append(rowErrs, fmt.Sprintf("unknown csp %q (want msi or office)", get("csp")))
		}
		p.CSP = csp
		p.TargetID = event.TargetID(get("target_id"))
		if p.TargetID == "" {
			rowErrs = append(rowErrs, "target_id is empty")
		}
		if p.Name == "" {
			rowErrs = append(rowErrs, "name is empty")
		}
		for _, k := range Columns {
			if strings.ContainsAny(r.fields[k], "\x00\r\n") {
				rowErrs = append(rowErrs, k+" holds a line break or NUL")
			}
		}
		if len(rowErrs) > 0 {
			errs = append(errs, lineErrorf(r.line, "%s", strings.Join(rowErrs, "; ")))
			continue
		}
		k := store.ProductKey{Tenant: p.Tenant, CSP: p.CSP, TargetID: p.TargetID}
		if l, dup := first[k]; dup {
			errs = append(errs, lineErrorf(r.line, "tenant %s %s %s already named on line %d", p.Tenant, p.CSP, p.TargetID, l))
			continue
		}
		first[k] = r.line
		out = append(out, p)
	}
	return out, errs
}

// joinErrors orders errs by line and joins at most maxErrors of them, one a
// line, saying how many more there were.
func joinErrors(errs []lineError) error {
	slices.SortStableFunc(errs, func(a, b lineError) int { return a.line - b.line })
	var b strings.Builder
	for i, e := range errs {
		if i == maxErrors {
			fmt.Fprintf(&b, "\nand %d more errors", len(errs)-maxErrors)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "line %d: %s", e.line, e.msg)
	}
	return errors.New(b.String())
}

// CSP returns the CSP name events carry for s: msi or
// EnterpriseDesktopAppManagement, office or Office, in any case.
func CSP(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "msi", strings.ToLower(event.CSPMSI):
		return event.CSPMSI, true
	case "office", strings.ToLower(event.CSPOffice):
		return event.CSPOffice, true
	}
	return "", false
}
