package alerts_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts/sink/alertmanager"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/alertmanager/alertmanagertest"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Through the engine: a spike in ClickHouse fires in Alertmanager with the
// product's labels, stays active while the engine resends it every bucket,
// and ends when the spike resolves.
func TestEngineAlertmanagerEndToEnd(t *testing.T) {
	am := alertmanagertest.Start(t)
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 32)
	r.flush()
	cfg := engineConfig("a", r.hook.URL)
	cfg.AlertmanagerURLs = []string{am.URL}
	e := r.started("a", cfg)
	if got := am.Alerts(t, url.Values{}, map[string]string{"alertname": alertmanager.AlertName}); len(got) != 0 {
		t.Fatalf("alerts before the spike: %+v", got)
	}

	r.evaluate(30, e)
	r.check("the spike's first bucket", 1, 0)
	want := map[string]string{
		"alertname": alertmanager.AlertName, "tenant": "contoso", "level": "product", "severity": "critical",
		"cause": "win32 1603", "code_hex": "0x80070643", "csp": event.CSPMSI, "target_id": "{BAD}",
		"product": "Product {BAD}", "version": "2.1",
	}
	a := am.ActiveAlert(t, want)
	fired := r.hook.delivered(t)[0]
	if a.Annotations["alert_id"] != fired.ID || a.Annotations["details_sql"] != fired.Query || a.Annotations["advice"] == "" {
		t.Errorf("annotations %v, want the webhook's alert %s", a.Annotations, fired.ID)
	}
	if !a.StartsAt.Equal(bucketStart(30)) {
		t.Errorf("startsAt %v, want the spike's bucket %v", a.StartsAt, bucketStart(30))
	}

	for i := 31; i <= 33; i++ { // the spike, then one quiet bucket
		r.evaluate(i, e)
		am.ActiveAlert(t, want)
	}
	if n := metric(t, e.reg, "cspwatch_alerts_resends_total", "sink", "alertmanager", "result", "sent"); n < 3 {
		t.Errorf("%v resends while the spike lasted, want one per bucket", n)
	}
	// An administrator names the product while it fires: the resolve keeps
	// the firing's names, so its labels end the alert the firing opened.
	if err := r.st.InsertAdminProducts(r.ctx, []store.AdminProduct{{Tenant: "contoso", CSP: event.CSPMSI, TargetID: "{BAD}", Name: "Contoso VPN"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := 34; i <= 38; i++ {
		r.evaluate(i, e)
	}
	r.check("after the cooldown", 1, 1)
	am.WaitGone(t, "contoso")
	if res := r.hook.delivered(t)[1]; res.ProductName != "Product {BAD}" {
		t.Errorf("resolve names the product %q, want the firing's name", res.ProductName)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cspwatch_alerts_deliveries_total", []string{"sink", "alertmanager", "result", "delivered"}, 2},
		{"cspwatch_alerts_deliveries_total", []string{"sink", "alertmanager", "result", "retried"}, 0},
		{"cspwatch_alerts_resends_total", []string{"sink", "alertmanager", "result", "failed"}, 0},
	} {
		if got := metric(t, e.reg, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}
