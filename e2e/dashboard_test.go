package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"sessionhub/internal/testutil"
)

// grafanaVariables stand in for the dashboard's template variables when its
// queries are sent to Prometheus directly. The rate window is generous so a
// busy machine's slow test still sees its traffic.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$job", "sessionhub",
	"$instance", ".*",
)

// allowedEmpty are alert signals no traffic can produce on purpose; their
// expressions must still parse and their metrics must be exported.
var allowedEmpty = map[string]string{
	"SessionhubInternalErrors": "INTERNAL is a bug: no request produces it on purpose",
}

// TestDashboardAndRulesOnPrometheus runs a real Prometheus (Debian's
// prometheus package) scraping the real binary on PostgreSQL while
// cmd/loadgen drives it, with errors, an outage of the database and
// refusals on top; then every panel's query of
// deploy/grafana/sessionhub.json and every rule of
// deploy/prometheus/alerts.yml is evaluated through Prometheus's HTTP API and
// must parse and return data, and Prometheus must have loaded and evaluated
// every rule without an error.
func TestDashboardAndRulesOnPrometheus(t *testing.T) {
	promBinary := debianTool(t, "prometheus", "prometheus")
	_, proxy, proxied := proxiedDatabase(t)
	srv := startServer(t, proxied, "RATE_LIMIT_PER_MINUTE=0")
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rulesPath, err := filepath.Abs(repoPath("deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, promBinary, target.Host, rulesPath)

	// Traffic: a live subscription, sends over both transports (group
	// commit included), then refusals of each kind, then an outage of the
	// database.
	session := srv.createSession(t, srv.createAgent(t), userID)
	sub, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.subscribe(t, "1", messagesQuery, map[string]any{"id": session})
	waitSubscribed(t, sub, srv, session)
	loadgen := filepath.Join(t.TempDir(), "loadgen")
	build := exec.Command("go", "build", "-o", loadgen, "./cmd/loadgen")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build loadgen: %v\n%s", err, out)
	}
	run := exec.Command(loadgen, "-url", srv.URL, "-transports", "rest,graphql", "-c", "8", "-sessions", "20",
		"-rounds", "1", "-d", "3s", "-warmup", "0s")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	t.Logf("loadgen:\n%s", out)

	missing := testutil.MustUUID()
	if res := srv.postJSON(t, "/api/messaging/sessions/"+missing+"/messages", map[string]any{"content": "hi"}); res.Status != http.StatusNotFound {
		t.Fatalf("send to a missing session: %d %s", res.Status, res.Body)
	}
	const send = `mutation($id: ID!, $c: String!) { sendSessionMessage(sessionId: $id, input: {content: $c}) { id } }`
	var gqlOut struct {
		Errors []struct{ Extensions struct{ Code string } }
	}
	srv.graphql(t, send, map[string]any{"id": missing, "c": "hi"}, &gqlOut)
	if len(gqlOut.Errors) == 0 || gqlOut.Errors[0].Extensions.Code != "SESSION_NOT_FOUND" {
		t.Fatalf("GraphQL send to a missing session: %+v", gqlOut)
	}
	srv.graphql(t, send, map[string]any{"id": session, "c": ""}, &gqlOut)
	if len(gqlOut.Errors) == 0 || gqlOut.Errors[0].Extensions.Code != "VALIDATION_ERROR" {
		t.Fatalf("GraphQL send of empty content: %+v", gqlOut)
	}

	proxy.Cut()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := srv.postJSON(t, "/api/messaging/sessions/"+session+"/messages", map[string]any{"content": "during the outage"})
		srv.graphql(t, send, map[string]any{"id": session, "c": "during the outage"}, &gqlOut)
		if res.Status == http.StatusServiceUnavailable && len(gqlOut.Errors) > 0 && gqlOut.Errors[0].Extensions.Code == "UNAVAILABLE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503/UNAVAILABLE while the database was cut: %d, %+v", res.Status, gqlOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	proxy.Restore()
	for deadline := time.Now().Add(30 * time.Second); srv.do(t, "GET", "/readyz", "", "").Status != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatal("not ready again after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Wait until Prometheus holds two scrapes of the last series the traffic
	// created, so rates over it exist.
	prom.waitFor(t, `rate(sessionhub_graphql_operations_total{job="sessionhub",outcome="UNAVAILABLE"}[5m])`, 60*time.Second)
	prom.waitFor(t, `rate(sessionhub_send_group_size_count{job="sessionhub"}[5m]) > 0`, 60*time.Second)
	prom.waitFor(t, `sessionhub_active_subscriptions{job="sessionhub"} > 0`, 60*time.Second)

	// Every panel's query, with the dashboard's variables filled in.
	raw, err := os.ReadFile(repoPath("deploy", "grafana", "sessionhub.json"))
	if err != nil {
		t.Fatal(err)
	}
	dash := parseDashboard(t, raw)
	queries := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			queries++
			expr := grafanaVariables.Replace(target.Expr)
			if n, err := prom.query(expr); err != nil {
				t.Errorf("panel %q, query %s: %v", p.Title, target.RefID, err)
			} else if n == 0 {
				t.Errorf("panel %q, query %s returned no data: %s", p.Title, target.RefID, expr)
			}
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := regexp.MustCompile(`^label_values\((.+), *(\w+)\)$`).FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		expr := grafanaVariables.Replace(fmt.Sprintf("count by (%s) (%s)", m[2], m[1]))
		if n, err := prom.query(expr); err != nil || n == 0 {
			t.Errorf("variable %s: %s gave %d values, %v", v.Name, expr, n, err)
		}
	}
	t.Logf("%d panel queries evaluated", queries)

	// Every rule: recording rules must return data; an alert's signal (its
	// expression with the final comparison made a "bool" one, so that it
	// keeps every series) must return data unless it is allowed empty.
	rules := readAlertRules(t)
	alertForm := regexp.MustCompile(`(?s)^(.*\S)\s+(>=|<=|==|!=|>|<)\s+([-+0-9.eE]+)\s*$`)
	for _, r := range rules {
		name := r.Alert + r.Record
		expr := r.Expr
		if r.Alert != "" {
			m := alertForm.FindStringSubmatch(expr)
			if m == nil {
				t.Errorf("alert %s: expression must end in one comparison with a number: %s", name, expr)
				continue
			}
			expr = fmt.Sprintf("%s %s bool %s", m[1], m[2], m[3])
		}
		n, err := prom.query(expr)
		switch {
		case err != nil:
			t.Errorf("rule %s: %v", name, err)
		case n == 0 && allowedEmpty[name] == "":
			t.Errorf("rule %s returned no data: %s", name, expr)
		case n == 0:
			t.Logf("rule %s returned no data, as allowed: %s", name, allowedEmpty[name])
		}
	}
	for name := range allowedEmpty {
		if n, err := prom.query(`count by (__name__) ({job="sessionhub",__name__=~"sessionhub_graphql_operations_total|sessionhub_http_requests_total"})`); err != nil || n != 2 {
			t.Errorf("%s: the metrics behind it are not exported (%d, %v)", name, n, err)
		}
	}

	// Prometheus itself loaded and evaluated every rule without an error.
	for deadline := time.Now().Add(30 * time.Second); ; {
		loaded, problems := prom.rules(t)
		if loaded == len(rules) && len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus loaded %d of %d rules; problems: %v", loaded, len(rules), problems)
		}
		time.Sleep(time.Second)
	}
}

// grafanaDashboard is what the tests read of a dashboard's JSON model.
type grafanaDashboard struct {
	Title         string
	UID           string
	SchemaVersion int
	Panels        []struct {
		ID         int
		Type       string
		Title      string
		Datasource *struct{ Type, UID string }
		GridPos    struct{ H, W, X, Y int }
		Targets    []struct {
			Expr       string
			RefID      string `json:"refId"`
			Datasource struct{ Type, UID string }
		}
	}
	Templating struct {
		List []struct {
			Name, Type, Definition string
		}
	}
}

func parseDashboard(t *testing.T, raw []byte) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("sessionhub.json: %v", err)
	}
	return d
}

// TestDashboardModel checks what Grafana 10+ needs to import the dashboard:
// a current schema, unique panel ids on a 24-column grid, every query bound to
// the data source variable.
func TestDashboardModel(t *testing.T) {
	raw, err := os.ReadFile(repoPath("deploy", "grafana", "sessionhub.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := parseDashboard(t, raw)
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q: Grafana 10 needs schemaVersion >= 36, a uid and a title", d.SchemaVersion, d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("no datasource variable: %v", vars)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource.UID != "${datasource}" || q.RefID == "" || q.Expr == "" {
				t.Errorf("panel %q: query %+v must name ${datasource}, a refId and an expr", p.Title, q)
			}
		}
	}
	for _, want := range []string{"Sends per second by transport", "Send latency percentiles", "Error codes",
		"Group commit size", "Subscriptions", "Events per second", "Connection pool", "Memory", "Garbage collection"} {
		found := false
		for _, p := range d.Panels {
			found = found || p.Title == want
		}
		if !found {
			t.Errorf("no panel %q", want)
		}
	}
}

// prometheus is a running Prometheus server.
type prometheus struct {
	url    string
	stderr *testutil.SyncBuffer
}

// startPrometheus runs Prometheus on a free local port, scraping target
// (host:port) every second as job "sessionhub" and evaluating rulesPath every
// second; it is stopped when the test ends.
func startPrometheus(t *testing.T, binary, target, rulesPath string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: sessionhub
    static_configs:
      - targets: [%q]
`, rulesPath, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	p := &prometheus{url: "http://" + addr, stderr: &testutil.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, p.stderr.String())
		default:
		}
		if res, err := http.Get(p.url + "/-/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 60s:\n%s", p.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query evaluates expr now and returns how many series (or 1 for a scalar)
// it produced; a parse or evaluation error is returned as an error.
func (p *prometheus) query(expr string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/api/v1/query",
		strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	var out struct {
		Status    string
		ErrorType string
		Error     string
		Data      struct {
			ResultType string
			Result     json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("%d %s: %w", res.StatusCode, body, err)
	}
	if out.Status != "success" {
		return 0, fmt.Errorf("%s: %s", out.ErrorType, out.Error)
	}
	if out.Data.ResultType == "scalar" || out.Data.ResultType == "string" {
		return 1, nil
	}
	var series []json.RawMessage
	if err := json.Unmarshal(out.Data.Result, &series); err != nil {
		return 0, err
	}
	return len(series), nil
}

// waitFor waits until expr returns data.
func (p *prometheus) waitFor(t *testing.T, expr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, err := p.query(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus had no data for %s within %s", expr, within)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rules returns how many rules Prometheus loaded that it has evaluated, and
// the problems it reports with any.
func (p *prometheus) rules(t *testing.T) (int, []string) {
	t.Helper()
	res, err := http.Get(p.url + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
					LastEvaluation          time.Time
				}
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	loaded := 0
	var problems []string
	for _, g := range out.Data.Groups {
		for _, r := range g.Rules {
			if r.LastEvaluation.IsZero() || r.LastEvaluation.Year() < 2000 {
				problems = append(problems, r.Name+": not evaluated yet")
				continue
			}
			loaded++
			if r.Health != "ok" || r.LastError != "" {
				problems = append(problems, fmt.Sprintf("%s: %s %s", r.Name, r.Health, r.LastError))
			}
		}
	}
	return loaded, problems
}
