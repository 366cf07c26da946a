package dashboard

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cspwatch/cspwatch/internal/store"
)

// params are a page's query parameters, checked.
type params struct {
	Tenant, Range string
	Since         time.Duration
	Product, CSP  string
	Device        string
	// from and to are the window (window); now is the clock's time it
	// was taken at.
	from, to, now time.Time
}

// errBadParam marks a parameter error: 400.
var errBadParam = errors.New("bad parameter")

// parseParams checks the query: each known parameter at most once, at
// most maxParam bytes of printable UTF-8; range a duration within bounds.
func parseParams(q url.Values) (params, error) {
	p := params{Range: defaultRange}
	get := func(name string) (string, error) {
		vs := q[name]
		switch {
		case len(vs) == 0:
			return "", nil
		case len(vs) > 1:
			return "", fmt.Errorf("%w: %s given %d times", errBadParam, name, len(vs))
		}
		v := strings.TrimSpace(vs[0])
		if len(v) > maxParam || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return "", fmt.Errorf("%w: %s must be printable text of at most %d bytes", errBadParam, name, maxParam)
		}
		return v, nil
	}
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"tenant", &p.Tenant}, {"range", &p.Range}, {"product", &p.Product}, {"csp", &p.CSP}, {"device", &p.Device}} {
		if *f.dst, err = get(f.name); err != nil {
			return p, err
		}
	}
	if p.Range == "" {
		p.Range = defaultRange
	}
	if p.Since, err = parseRange(p.Range); err != nil {
		return p, err
	}
	return p, nil
}

// parseRange reads a Go duration or a whole number of days ("7d").
func parseRange(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%w: range %q: want a duration such as 6h or 7d", errBadParam, s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%w: range %q: want a duration such as 6h or 7d", errBadParam, s)
		}
	}
	if d < MinRange || d > MaxRange {
		return 0, fmt.Errorf("%w: range %q: want between 5m and 90d", errBadParam, s)
	}
	return d, nil
}

// link is a relative link to a page with the current tenant and range and
// the given extra parameters (name, value pairs; an empty value is left
// out).
func (p params) link(page string, kv ...string) string {
	v := url.Values{}
	if p.Tenant != "" {
		v.Set("tenant", p.Tenant)
	}
	if p.Range != defaultRange {
		v.Set("range", p.Range)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
			continue
		}
		v.Set(kv[i], kv[i+1])
	}
	if page == "" {
		page = "./"
	}
	if len(v) == 0 {
		return page
	}
	return page + "?" + v.Encode()
}

// productLink is the product page of a product name (and CSP).
func (p params) productLink(tenant, csp, product string) string {
	q := p
	if tenant != "" {
		q.Tenant = tenant
	}
	return q.link("product", "product", product, "csp", csp)
}

func (p params) deviceLink(tenant, device string) string {
	q := p
	q.Tenant = tenant
	return q.link("device", "device", device)
}

// window is the page's window: it ends at now rounded up to the second, as
// FleetReport's does.
func (s *server) window(p *params) store.Window {
	now := s.o.Now()
	to := now.UTC().Truncate(time.Second)
	if to.Before(now) {
		to = to.Add(time.Second)
	}
	p.from, p.to, p.now = to.Add(-p.Since), to, now
	return store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
}
