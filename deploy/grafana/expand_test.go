package grafana

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// query is what Grafana and the ClickHouse plugin fill a panel's SQL
// from: the dashboard's time range, the panel's interval and the template
// variables' selections.
type query struct {
	From, To time.Time
	Interval time.Duration
	Vars     map[string]selection
}

// selection is a multi-value variable's current value: All, or the values
// picked. Values holds every option of the variable when All is set, since
// Grafana expands All into them (the variables have no custom all value).
type selection struct {
	All    bool
	Values []string
}

// expand turns a panel's rawSql into the SQL the plugin sends ClickHouse,
// in the order of grafana-clickhouse-datasource (v4): the frontend first
// replaces $__conditionalAll(condition, $var) by condition, or by 1=1 when
// the variable selects All; Grafana then interpolates the template
// variables; the backend last expands its macros. Only what the dashboard
// uses is implemented, each exactly as the plugin documents it; anything
// else is an error, so a panel cannot use a macro the test does not
// understand:
//
//	${var:singlequote}   'a','b' (Grafana's singlequote format: ' escaped as \')
//	$__timeFilter(col)   col >= toDateTime(FROM) AND col <= toDateTime(TO)
//	$__fromTime          toDateTime(FROM)
//	$__toTime            toDateTime(TO)
//	$__interval_s        the panel's interval in seconds, at least 1
//
// FROM and TO are Unix seconds. $__timeInterval(col) is not used: it
// expands to toStartOfInterval, which ClickHouse 18.16 lacks; the panels
// bucket with $__interval_s instead.
func expand(sql string, q query) (string, error) {
	sql, err := conditionalAll(sql, q)
	if err != nil {
		return "", err
	}
	if sql, err = interpolate(sql, q); err != nil {
		return "", err
	}
	if sql, err = macros(sql, q); err != nil {
		return "", err
	}
	if i := strings.IndexByte(sql, '$'); i >= 0 {
		return "", fmt.Errorf("unexpanded %q", sql[i:min(len(sql), i+30)])
	}
	return sql, nil
}

const conditionalAllMacro = "$__conditionalAll("

// conditionalAll is the plugin's applyConditionalAll: from the last
// occurrence to the first, the two arguments split at the first comma
// outside parentheses.
func conditionalAll(sql string, q query) (string, error) {
	for {
		i := strings.LastIndex(sql, conditionalAllMacro)
		if i < 0 {
			return sql, nil
		}
		args, end, err := macroArgs(sql, i+len(conditionalAllMacro)-1)
		if err != nil {
			return "", err
		}
		if len(args) != 2 {
			return "", fmt.Errorf("$__conditionalAll takes 2 arguments, got %d: %q", len(args), sql[i:end])
		}
		m := varRef.FindStringSubmatch(strings.TrimSpace(args[1]))
		if m == nil {
			return "", fmt.Errorf("$__conditionalAll: %q is not a variable", args[1])
		}
		name := m[1] + m[2]
		sel, ok := q.Vars[name]
		if !ok {
			return "", fmt.Errorf("$__conditionalAll: no variable %s", name)
		}
		phrase := args[0]
		if sel.All {
			phrase = "1=1"
		}
		sql = sql[:i] + phrase + sql[end:]
	}
}

var varRef = regexp.MustCompile(`^(?:\$\{(\w+)\}|\$(\w+))$`)

// macroArgs splits the arguments of the macro whose "(" is at open,
// returning them and the index just past its ")".
func macroArgs(sql string, open int) ([]string, int, error) {
	depth, start := 0, open+1
	var args []string
	for i := open; i < len(sql); i++ {
		switch sql[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return append(args, sql[start:i]), i + 1, nil
			}
		case ',':
			if depth == 1 {
				args = append(args, sql[start:i])
				start = i + 1
			}
		}
	}
	return nil, 0, fmt.Errorf("unclosed macro at %q", sql[open:min(len(sql), open+30)])
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name},
// ${name:format}, [[name]]. Names starting with __ are the plugin's macros
// (or Grafana's global variables) and are left alone here.
var grafanaVar = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::([^}]+))?\}|\[\[(\w+)(?::(\w+))?\]\]`)

func interpolate(sql string, q query) (string, error) {
	var err error
	out := grafanaVar.ReplaceAllStringFunc(sql, func(ref string) string {
		m := grafanaVar.FindStringSubmatch(ref)
		name, format := m[1]+m[2]+m[4], m[3]+m[5]
		if strings.HasPrefix(name, "__") {
			return ref
		}
		sel, ok := q.Vars[name]
		switch {
		case !ok:
			err = fmt.Errorf("%s: no such variable", ref)
		case format != "singlequote":
			// The plugin's own format ('a','b' for several values, the bare
			// value for one) differs by the number selected: the panels
			// always name a format.
			err = fmt.Errorf("%s: only ${%s:singlequote} is supported", ref, name)
		case len(sel.Values) == 0:
			err = fmt.Errorf("%s: no value", ref)
		}
		quoted := make([]string, len(sel.Values))
		for i, v := range sel.Values {
			quoted[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
		}
		return strings.Join(quoted, ",")
	})
	return out, err
}

var pluginMacro = regexp.MustCompile(`\$__(\w+)(\(([^()]*)\))?`)

func macros(sql string, q query) (string, error) {
	var err error
	from, to := fmt.Sprintf("toDateTime(%d)", q.From.Unix()), fmt.Sprintf("toDateTime(%d)", q.To.Unix())
	out := pluginMacro.ReplaceAllStringFunc(sql, func(ref string) string {
		m := pluginMacro.FindStringSubmatch(ref)
		name, hasArgs, arg := m[1], m[2] != "", strings.TrimSpace(m[3])
		fail := func(format string, a ...any) string {
			err = fmt.Errorf("%s: %s", ref, fmt.Sprintf(format, a...))
			return ref
		}
		switch name {
		case "timeFilter":
			if !hasArgs || arg == "" || strings.Contains(arg, ",") {
				return fail("takes one column")
			}
			return arg + " >= " + from + " AND " + arg + " <= " + to
		case "fromTime", "toTime", "interval_s":
			if hasArgs {
				return fail("takes no arguments")
			}
			switch name {
			case "fromTime":
				return from
			case "toTime":
				return to
			}
			return fmt.Sprint(max(int64(q.Interval/time.Second), 1))
		}
		return fail("not a macro this test expands")
	})
	return out, err
}

// The expansion gives the plugin's documented outputs and refuses what it
// does not implement.
func TestExpand(t *testing.T) {
	q := query{
		From: time.Unix(1415792726, 0), To: time.Unix(1447328726, 0), Interval: 20 * time.Second,
		Vars: map[string]selection{
			"tenant":  {All: true, Values: []string{"t1", "t2"}},
			"product": {Values: []string{"App A", "Bob's App"}},
		},
	}
	ok := []struct{ in, want string }{
		{"WHERE $__timeFilter(time)", "WHERE time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)"},
		{"$__fromTime, $__toTime, $__interval_s", "toDateTime(1415792726), toDateTime(1447328726), 20"},
		{"$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)", "1=1"},
		{"$__conditionalAll(product IN (${product:singlequote}), $product)", `product IN ('App A','Bob\'s App')`},
		{"$__conditionalAll(product IN ('', ${product:singlequote}), ${product}) AND $__conditionalAll(x IN (f(1, 2)), $tenant)",
			`product IN ('', 'App A','Bob\'s App') AND 1=1`},
		{"tenant IN (${tenant:singlequote})", "tenant IN ('t1','t2')"},
	}
	for _, c := range ok {
		got, err := expand(c.in, q)
		if err != nil || got != c.want {
			t.Errorf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"$__timeInterval(t)",           // not used: toStartOfInterval is not in 18.16
		"$__timeFilter_ms(t)",          // a documented macro the dashboard does not use
		"$__dateFilter(d)",             // likewise
		"$__timeFilter(toDateTime(t))", // the backend's macro argument stops at the first )
		"$__timeFilter",
		"$__fromTime(x)",
		"$__conditionalAll(a, b)",
		"$__conditionalAll(a, $nosuch)",
		"$__conditionalAll(a)",
		"tenant = $tenant",
		"tenant IN (${tenant})",
		"tenant IN (${tenant:csv})",
		"x = ${nosuch:singlequote}",
		"[[tenant]]",
		"$__conditionalAll(a, $tenant",
	}
	for _, in := range bad {
		if got, err := expand(in, q); err == nil {
			t.Errorf("expand(%q) = %q, want an error", in, got)
		}
	}
}
